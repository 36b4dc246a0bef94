//! Distributed hypertables as the access node knows them: dimensions and data nodes.

use hyperdist_core::time::TimeType;
use pgrx::pg_sys;
use pgrx::prelude::*;

use super::{spi, spi_optional};

#[derive(Clone, Debug)]
pub struct TimeDimension {
    pub column: String,
    pub time_type: TimeType,
    /// Chunk interval, in the internal unit (microseconds, or the integer's own unit).
    pub interval: i64,
}

impl TimeDimension {
    /// The internal form of a datum of the time column (timestamp, date and integer datums are
    /// passed by value).
    pub fn internal(&self, datum: pg_sys::Datum) -> i64 {
        let raw = match self.time_type {
            TimeType::TimestampTz | TimeType::Timestamp | TimeType::BigInt => datum.value() as i64,
            TimeType::Date | TimeType::Int => datum.value() as i32 as i64,
            TimeType::SmallInt => datum.value() as i16 as i64,
        };
        self.time_type.to_internal(raw)
    }
}

#[derive(Clone, Debug)]
pub struct SpaceDimension {
    pub column: String,
    pub partitions: u16,
}

#[derive(Clone, Debug)]
pub struct Hypertable {
    pub id: i32,
    /// The foreign table on the access node (invalid once it has been dropped).
    pub relid: pg_sys::Oid,
    pub schema: String,
    pub table: String,
    pub associated_schema: String,
    pub associated_prefix: String,
    pub replication_factor: i16,
    pub time: TimeDimension,
    pub space: Option<SpaceDimension>,
    /// The data nodes new chunks go to, in placement order.
    pub data_nodes: Vec<String>,
}

impl Hypertable {
    /// Makes cached plans that read the hypertable plan again once this transaction commits: they
    /// depend on which chunks exist and where (aggregate push-down decides by placement).
    pub fn invalidate_plans(&self) {
        if self.relid != pg_sys::InvalidOid {
            // SAFETY: queues a relcache invalidation of an existing relation.
            unsafe { pg_sys::CacheInvalidateRelcacheByRelid(self.relid) };
        }
    }

    pub fn qualified_name(&self) -> String {
        format!(
            "{}.{}",
            crate::quote::ident(&self.schema),
            crate::quote::ident(&self.table)
        )
    }
}

/// The hypertable whose access-node relation is `relid`, if it is one.
pub fn by_relid(relid: pg_sys::Oid) -> Option<Hypertable> {
    super::cache::hypertable_by_relid(relid, || load_by_relid(relid)).map(|h| (*h).clone())
}

fn load_by_relid(relid: pg_sys::Oid) -> Option<Hypertable> {
    let id = spi_optional(Spi::get_one_with_args::<i32>(
        "SELECT h.id FROM _hyperdist_catalog.hypertable h
           JOIN pg_catalog.pg_class c ON c.relname = h.table_name
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace AND n.nspname = h.schema_name
          WHERE c.oid = $1",
        &[relid.into()],
    ))?;
    by_id(id)
}

/// The hypertable of the foreign table `relid`; a foreign table of hyperdist_fdw made by hand is
/// refused with an error that says so.
pub fn require(relid: pg_sys::Oid) -> Hypertable {
    by_relid(relid).unwrap_or_else(|| {
        // SAFETY: returns a palloc'd copy of the name, or NULL for an unknown relation.
        let name = unsafe { pg_sys::get_rel_name(relid) };
        let name = if name.is_null() {
            relid.to_u32().to_string()
        } else {
            unsafe { std::ffi::CStr::from_ptr(name) }
                .to_string_lossy()
                .into_owned()
        };
        crate::error::Report::new(
            pgrx::PgSqlErrorCode::ERRCODE_FDW_TABLE_NOT_FOUND,
            format!("foreign table \"{name}\" is not a distributed hypertable"),
        )
        .hint(
            "Foreign tables of hyperdist_fdw are made by create_distributed_hypertable(); \
             use postgres_fdw for a plain remote table.",
        )
        .raise()
    })
}

pub fn by_id(id: i32) -> Option<Hypertable> {
    super::cache::hypertable_by_id(id, || load_by_id(id)).map(|h| (*h).clone())
}

fn load_by_id(id: i32) -> Option<Hypertable> {
    let row = Spi::connect(|client| {
        let mut rows = client.select(
            "SELECT schema_name::text, table_name::text, associated_schema_name::text,
                    associated_table_prefix::text, replication_factor,
                    to_regclass(format('%I.%I', schema_name, table_name))::oid
               FROM _hyperdist_catalog.hypertable WHERE id = $1",
            Some(1),
            &[id.into()],
        )?;
        let Some(row) = rows.next() else {
            return Ok(None);
        };
        Ok::<_, pgrx::spi::SpiError>(Some((
            row.get::<String>(1)?.unwrap_or_default(),
            row.get::<String>(2)?.unwrap_or_default(),
            row.get::<String>(3)?.unwrap_or_default(),
            row.get::<String>(4)?.unwrap_or_default(),
            row.get::<i16>(5)?.unwrap_or(1),
            row.get::<pg_sys::Oid>(6)?.unwrap_or(pg_sys::InvalidOid),
        )))
    });
    let (schema, table, associated_schema, associated_prefix, replication_factor, relid) =
        spi(row)?;
    let dimensions = Spi::connect(|client| {
        client
            .select(
                "SELECT column_name::text, format_type(column_type, NULL), interval_length, num_slices
                   FROM _hyperdist_catalog.dimension WHERE hypertable_id = $1 ORDER BY id",
                None,
                &[id.into()],
            )?
            .map(|row| {
                Ok((
                    row.get::<String>(1)?.unwrap_or_default(),
                    row.get::<String>(2)?.unwrap_or_default(),
                    row.get::<i64>(3)?,
                    row.get::<i16>(4)?,
                ))
            })
            .collect::<Result<Vec<_>, pgrx::spi::SpiError>>()
    });
    let mut time = None;
    let mut space = None;
    for (column, type_name, interval, slices) in spi(dimensions) {
        match (interval, slices) {
            (Some(interval), _) => {
                time = Some(TimeDimension {
                    column,
                    time_type: TimeType::from_type_name(&type_name)?,
                    interval,
                })
            }
            (None, Some(slices)) => {
                space = Some(SpaceDimension {
                    column,
                    partitions: slices.max(1) as u16,
                })
            }
            (None, None) => {}
        }
    }
    Some(Hypertable {
        id,
        relid,
        schema,
        table,
        associated_schema,
        associated_prefix,
        replication_factor,
        time: time?,
        space,
        data_nodes: data_nodes(id),
    })
}

pub fn data_nodes(hypertable_id: i32) -> Vec<String> {
    let nodes = Spi::connect(|client| {
        client
            .select(
                "SELECT node_name::text FROM _hyperdist_catalog.hypertable_data_node
                  WHERE hypertable_id = $1 ORDER BY position",
                None,
                &[hypertable_id.into()],
            )?
            .map(|row| row.get::<String>(1).map(Option::unwrap_or_default))
            .collect::<Result<Vec<_>, _>>()
    });
    spi(nodes)
}
