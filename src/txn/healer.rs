//! The background healer: a launcher (started with the server) that keeps one worker per database;
//! each worker, in a database with hyperdist, heals every data node every `hyperdist.heal_interval`.
//! So in-doubt transactions are resolved on their own, also after the access node restarts.

use std::collections::HashMap;

use pgrx::bgworkers::{
    BackgroundWorker, BackgroundWorkerBuilder, BgWorkerStartTime, DynamicBackgroundWorker,
    SignalWakeFlags,
};
use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::guc;

/// Registers the launcher; called from `_PG_init` while preloading.
pub fn register() {
    BackgroundWorkerBuilder::new("hyperdist healer launcher")
        .set_type("hyperdist healer launcher")
        .set_library("hyperdist")
        .set_function("hyperdist_healer_launcher")
        .enable_spi_access()
        .set_start_time(BgWorkerStartTime::RecoveryFinished)
        .set_restart_time(Some(std::time::Duration::from_secs(10)))
        .load();
}

fn reload_config_on_sighup() {
    if BackgroundWorker::sighup_received() {
        // SAFETY: re-reads postgresql.conf in this worker, as any backend does on SIGHUP.
        unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
    }
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn hyperdist_healer_launcher(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    BackgroundWorker::connect_worker_to_spi(Some("postgres"), None);
    let mut workers: HashMap<u32, DynamicBackgroundWorker> = HashMap::new();
    loop {
        reload_config_on_sighup();
        let databases: Vec<u32> = BackgroundWorker::transaction(|| {
            Spi::connect(|client| {
                client
                    .select(
                        "SELECT oid::int8 FROM pg_database WHERE datallowconn AND NOT datistemplate",
                        None,
                        &[],
                    )
                    .map(|rows| {
                        rows.filter_map(|row| row.get::<i64>(1).ok().flatten())
                            .map(|oid| oid as u32)
                            .collect()
                    })
                    .unwrap_or_default()
            })
        });
        workers.retain(|db, worker| databases.contains(db) && worker.pid().is_ok());
        for db in databases {
            if workers.contains_key(&db) {
                continue;
            }
            let started = BackgroundWorkerBuilder::new("hyperdist healer")
                .set_type("hyperdist healer")
                .set_library("hyperdist")
                .set_function("hyperdist_healer")
                .set_argument(Some(pg_sys::Datum::from(db)))
                .enable_spi_access()
                .load_dynamic();
            match started {
                Ok(worker) => {
                    workers.insert(db, worker);
                }
                Err(err) => pgrx::log!("hyperdist healer launcher: cannot start a healer: {err:?}"),
            }
        }
        if !BackgroundWorker::wait_latch(Some(guc::heal_interval())) {
            break;
        }
    }
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn hyperdist_healer(arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    let database = pg_sys::Oid::from(arg.value() as u32);
    BackgroundWorker::connect_worker_to_spi_by_oid(Some(database), None);
    loop {
        reload_config_on_sighup();
        let healed = BackgroundWorker::transaction(|| {
            let installed = Spi::get_one::<bool>(
                "SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'hyperdist')",
            )
            .ok()
            .flatten()
            .unwrap_or(false);
            if installed {
                super::heal::heal_all();
            }
            installed
        });
        // A database without hyperdist needs no healer; the launcher looks again next round.
        if !healed || !BackgroundWorker::wait_latch(Some(guc::heal_interval())) {
            break;
        }
    }
}
