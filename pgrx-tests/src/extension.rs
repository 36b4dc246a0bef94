//! `CREATE EXTENSION hyperdist`: what it installs, and how its wrapper treats bad input.

#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn version_is_the_crate_version() {
        let version = Spi::get_one::<String>("SELECT hyperdist_version()").unwrap();
        assert_eq!(version.as_deref(), Some(env!("CARGO_PKG_VERSION")));
        let installed = Spi::get_one::<String>(
            "SELECT extversion FROM pg_extension WHERE extname = 'hyperdist'",
        )
        .unwrap();
        assert_eq!(installed, version);
    }

    #[pg_test]
    fn schemas_belong_to_the_extension() {
        let members = Spi::get_one::<i64>(
            "SELECT count(*) FROM pg_depend d JOIN pg_namespace n ON d.objid = n.oid
              WHERE d.classid = 'pg_namespace'::regclass
                AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'hyperdist')
                AND d.deptype = 'e'
                AND n.nspname IN ('_hyperdist_catalog', '_hyperdist_internal', 'timescaledb_information')",
        )
        .unwrap();
        assert_eq!(members, Some(3));
    }

    #[pg_test]
    fn wrapper_has_rust_handler_and_validator() {
        let row = Spi::get_two::<String, String>(
            "SELECT fdwhandler::regproc::text, fdwvalidator::regproc::text
               FROM pg_foreign_data_wrapper WHERE fdwname = 'hyperdist_fdw'",
        )
        .unwrap();
        assert_eq!(
            row,
            (
                Some("_hyperdist_internal.hyperdist_fdw_handler".to_string()),
                Some("_hyperdist_internal.hyperdist_fdw_validator".to_string())
            )
        );
    }

    #[pg_test]
    fn server_takes_connection_options() {
        Spi::run(
            "CREATE SERVER dn_ok FOREIGN DATA WRAPPER hyperdist_fdw
                OPTIONS (host '127.0.0.1', port '5432', dbname 'metrics')",
        )
        .unwrap();
        Spi::run(
            "CREATE USER MAPPING FOR CURRENT_USER SERVER dn_ok OPTIONS (user 'u', password 'p')",
        )
        .unwrap();
        let options = Spi::get_one::<Vec<String>>(
            "SELECT srvoptions::text[] FROM pg_foreign_server WHERE srvname = 'dn_ok'",
        )
        .unwrap();
        assert_eq!(
            options,
            Some(vec![
                "host=127.0.0.1".to_string(),
                "port=5432".to_string(),
                "dbname=metrics".to_string()
            ])
        );
    }

    #[pg_test(error = "invalid option \"hots\"")]
    fn misspelt_server_option_is_refused() {
        Spi::run("CREATE SERVER dn_typo FOREIGN DATA WRAPPER hyperdist_fdw OPTIONS (hots 'x')")
            .unwrap();
    }

    #[pg_test(error = "invalid value for option \"port\": \"70000\"")]
    fn out_of_range_port_is_refused_on_alter() {
        Spi::run("CREATE SERVER dn_port FOREIGN DATA WRAPPER hyperdist_fdw OPTIONS (port '5432')")
            .unwrap();
        Spi::run("ALTER SERVER dn_port OPTIONS (SET port '70000')").unwrap();
    }

    #[pg_test(error = "invalid value for option \"available\": \"maybe\"")]
    fn availability_must_be_a_boolean() {
        Spi::run(
            "CREATE SERVER dn_av FOREIGN DATA WRAPPER hyperdist_fdw OPTIONS (available 'maybe')",
        )
        .unwrap();
    }

    #[pg_test]
    fn database_has_an_identity_and_no_cluster_yet() {
        let uuid = Spi::get_one::<String>(
            "SELECT value FROM _hyperdist_catalog.metadata WHERE key = 'uuid'",
        )
        .unwrap()
        .unwrap();
        assert_eq!(uuid.len(), 36, "a uuid: {uuid}");
        let members = Spi::get_one::<i64>(
            "SELECT count(*) FROM _hyperdist_catalog.metadata WHERE key = 'dist_uuid'",
        )
        .unwrap();
        assert_eq!(members, Some(0));
    }

    #[pg_test(error = "data node name cannot be NULL")]
    fn delete_data_node_needs_a_name() {
        Spi::run("SELECT delete_data_node(NULL)").unwrap();
    }

    #[pg_test(error = "server \"missing\" does not exist")]
    fn alter_data_node_of_an_unknown_node() {
        Spi::run("SELECT alter_data_node('missing', available => false)").unwrap();
    }

    #[pg_test(error = "data node \"other\" is not a hyperdist server")]
    fn server_of_another_wrapper_is_not_a_data_node() {
        Spi::run("CREATE FOREIGN DATA WRAPPER other_fdw").unwrap();
        Spi::run("CREATE SERVER other FOREIGN DATA WRAPPER other_fdw").unwrap();
        Spi::run("SELECT delete_data_node('other')").unwrap();
    }

    #[pg_test(error = "invalid option \"password\"")]
    fn password_on_server_is_refused() {
        Spi::run(
            "CREATE SERVER dn_pw FOREIGN DATA WRAPPER hyperdist_fdw OPTIONS (password 'secret')",
        )
        .unwrap();
    }

    #[pg_test(error = "foreign table \"not_distributed\" is not a distributed hypertable")]
    fn plain_foreign_table_fails_to_plan_instead_of_crashing() {
        Spi::run("CREATE SERVER dn_scan FOREIGN DATA WRAPPER hyperdist_fdw").unwrap();
        Spi::run("CREATE FOREIGN TABLE not_distributed (t timestamptz) SERVER dn_scan").unwrap();
        Spi::run("SELECT * FROM not_distributed").unwrap();
    }

    #[pg_test(error = "foreign table \"ro\" is not a distributed hypertable")]
    fn plain_foreign_table_refuses_inserts() {
        Spi::run("CREATE SERVER dn_ins FOREIGN DATA WRAPPER hyperdist_fdw").unwrap();
        Spi::run("CREATE FOREIGN TABLE ro (t int) SERVER dn_ins").unwrap();
        Spi::run("INSERT INTO ro VALUES (1)").unwrap();
    }
}
