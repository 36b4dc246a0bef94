//! A table's definition, read from the catalogs and printed as SQL for the data nodes (the table
//! itself) and for the access node (the foreign table that replaces it).

use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::catalog::spi;
use crate::quote;

pub struct Column {
    pub name: String,
    /// `format_type` output, schema-qualified.
    pub type_sql: String,
    pub collation: Option<String>,
    pub not_null: bool,
    pub default: Option<String>,
    pub generated: bool,
    pub identity: bool,
}

impl Column {
    /// `name type [COLLATE c] [NOT NULL]`: what both node kinds declare the column as.
    fn declaration(&self) -> String {
        let mut item = format!("{} {}", quote::ident(&self.name), self.type_sql);
        if let Some(collation) = &self.collation {
            item.push_str(&format!(" COLLATE {collation}"));
        }
        if self.not_null {
            item.push_str(" NOT NULL");
        }
        item
    }
}

pub struct TableDefinition {
    pub columns: Vec<Column>,
    /// `CONSTRAINT name <definition>` of CHECK, PRIMARY KEY, UNIQUE and EXCLUDE constraints.
    pub constraints: Vec<String>,
    /// `CREATE INDEX` statements of indexes that back no constraint.
    pub indexes: Vec<String>,
    /// Leading column names of every index, to skip default indexes that already exist.
    pub index_leads: Vec<Vec<String>>,
}

/// Reads the definition of `relid` (with qualified names: call inside `with_qualified_names`).
pub fn read(relid: pg_sys::Oid) -> TableDefinition {
    let columns = Spi::connect(|client| {
        client
            .select(
                "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod),
                        CASE WHEN a.attcollation <> t.typcollation
                             THEN (SELECT quote_ident(n.nspname) || '.' || quote_ident(c.collname)
                                     FROM pg_collation c JOIN pg_namespace n ON n.oid = c.collnamespace
                                    WHERE c.oid = a.attcollation) END,
                        a.attnotnull, pg_get_expr(d.adbin, d.adrelid),
                        a.attgenerated <> '', a.attidentity <> ''
                   FROM pg_attribute a
                   JOIN pg_type t ON t.oid = a.atttypid
                   LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                  WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
                  ORDER BY a.attnum",
                None,
                &[relid.into()],
            )?
            .map(|row| {
                Ok(Column {
                    name: row.get::<String>(1)?.unwrap_or_default(),
                    type_sql: row.get::<String>(2)?.unwrap_or_default(),
                    collation: row.get::<String>(3)?,
                    not_null: row.get::<bool>(4)?.unwrap_or(false),
                    default: row.get::<String>(5)?,
                    generated: row.get::<bool>(6)?.unwrap_or(false),
                    identity: row.get::<bool>(7)?.unwrap_or(false),
                })
            })
            .collect::<Result<Vec<_>, pgrx::spi::SpiError>>()
    });
    let constraints = strings(
        "SELECT 'CONSTRAINT ' || quote_ident(conname) || ' ' || pg_get_constraintdef(oid)
           FROM pg_constraint WHERE conrelid = $1 AND contype IN ('c', 'p', 'u', 'x') ORDER BY conname",
        relid,
    );
    let indexes = strings(
        "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i
          WHERE i.indrelid = $1
            AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = $1)
          ORDER BY i.indexrelid",
        relid,
    );
    let index_leads = Spi::connect(|client| {
        client
            .select(
                "SELECT array_agg(a.attname::text ORDER BY k.ord)
                   FROM pg_index i
                   CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
                   JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                  WHERE i.indrelid = $1
                  GROUP BY i.indexrelid",
                None,
                &[relid.into()],
            )?
            .map(|row| row.get::<Vec<String>>(1).map(Option::unwrap_or_default))
            .collect::<Result<Vec<_>, _>>()
    });
    TableDefinition {
        columns: spi(columns),
        constraints,
        indexes,
        index_leads: spi(index_leads),
    }
}

fn strings(sql: &str, relid: pg_sys::Oid) -> Vec<String> {
    let rows = Spi::connect(|client| {
        client
            .select(sql, None, &[relid.into()])?
            .map(|row| row.get::<String>(1).map(Option::unwrap_or_default))
            .collect::<Result<Vec<_>, _>>()
    });
    spi(rows)
}

impl TableDefinition {
    /// The table as a data node holds it: columns with types and NOT NULL, constraints. No
    /// defaults: the access node always sends every column.
    pub fn data_node_table(&self, qualified_name: &str) -> String {
        let mut items: Vec<String> = self.columns.iter().map(Column::declaration).collect();
        items.extend(self.constraints.iter().cloned());
        format!("CREATE TABLE {qualified_name} ({})", items.join(", "))
    }

    /// The foreign table that stands for the hypertable on the access node: same columns, NOT
    /// NULL, defaults and generated expressions (evaluated here, before rows are routed).
    pub fn foreign_table(&self, qualified_name: &str, server: &str) -> String {
        let items: Vec<String> = self
            .columns
            .iter()
            .map(|c| {
                let mut item = c.declaration();
                match (&c.default, c.generated) {
                    (Some(expr), true) => {
                        item.push_str(&format!(" GENERATED ALWAYS AS ({expr}) STORED"))
                    }
                    (Some(expr), false) => item.push_str(&format!(" DEFAULT {expr}")),
                    (None, _) => {}
                }
                item
            })
            .collect();
        format!(
            "CREATE FOREIGN TABLE {qualified_name} ({}) SERVER {}",
            items.join(", "),
            quote::ident(server)
        )
    }

    /// Whether some index starts with exactly `columns`.
    pub fn has_index_leading_with(&self, columns: &[&str]) -> bool {
        self.index_leads.iter().any(|lead| {
            lead.len() >= columns.len() && lead.iter().zip(columns).all(|(a, b)| a == b)
        })
    }
}

impl TableDefinition {
    /// Everything a data node runs to hold the table: its schema if missing, the table with its
    /// constraints, and its other indexes.
    pub fn data_node_ddl(&self, schema: &str, qualified_name: &str) -> Vec<String> {
        let mut ddl = vec![
            format!("CREATE SCHEMA IF NOT EXISTS {}", quote::ident(schema)),
            self.data_node_table(qualified_name),
        ];
        ddl.extend(self.indexes.iter().cloned());
        ddl
    }
}

#[pg_schema]
mod _hyperdist_internal {
    use super::*;

    /// The DDL that re-creates a hypertable's table (as this data node has it) on another data
    /// node: how `attach_data_node` copies the current definition to a new node.
    #[pg_extern(stable)]
    fn table_definition(relation: pg_sys::Oid) -> String {
        let (schema, table) = spi(Spi::get_two_with_args::<String, String>(
            "SELECT n.nspname::text, c.relname::text FROM pg_class c
               JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1",
            &[relation.into()],
        ));
        let (schema, table) = (schema.unwrap_or_default(), table.unwrap_or_default());
        let qualified = format!("{}.{}", quote::ident(&schema), quote::ident(&table));
        crate::ddl::with_qualified_names(|| read(relation))
            .data_node_ddl(&schema, &qualified)
            .join(";\n")
    }
}
