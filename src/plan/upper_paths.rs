//! The planner's `create_upper_paths_hook`, for queries a data node runs on its chunks: first a
//! hashed aggregation with a bucket-aware group estimate (`bucket_groups`), then, for aggregates
//! the access node marked, initial-phase partial aggregation (`partial`), which also applies to
//! the hashed path just added. On the access node neither matches its own planning (hypertables
//! are foreign tables there, their aggregation is planned by `grouping`).

use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::plan::{bucket_groups, partial};

static mut PREV_CREATE_UPPER_PATHS: pg_sys::create_upper_paths_hook_type = None;

pub fn init() {
    // SAFETY: _PG_init runs once per process, before any planning; the previous hook is chained.
    unsafe {
        PREV_CREATE_UPPER_PATHS = pg_sys::create_upper_paths_hook;
        pg_sys::create_upper_paths_hook = Some(create_upper_paths);
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn create_upper_paths(
    root: *mut pg_sys::PlannerInfo,
    stage: pg_sys::UpperRelationKind::Type,
    input_rel: *mut pg_sys::RelOptInfo,
    output_rel: *mut pg_sys::RelOptInfo,
    extra: *mut std::ffi::c_void,
) {
    // SAFETY: chaining to the hook installed before ours; an ERROR it raises is caught by the
    // boundary and re-raised as a Rust panic.
    #[allow(ffi_unwind_calls)]
    unsafe {
        if let Some(prev) = PREV_CREATE_UPPER_PATHS {
            pg_sys::submodules::ffi::pg_guard_ffi_boundary(|| {
                prev(root, stage, input_rel, output_rel, extra)
            });
        }
    }
    // SAFETY: for UPPERREL_GROUP_AGG, PostgreSQL passes its GroupPathExtraData as `extra`.
    unsafe {
        if stage == pg_sys::UpperRelationKind::UPPERREL_GROUP_AGG {
            bucket_groups::add_hashed_aggregation(root, input_rel, output_rel, extra.cast());
            partial::make_partial(root, output_rel);
        }
    }
}
