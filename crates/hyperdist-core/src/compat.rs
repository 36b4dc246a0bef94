//! Can a data node serve this access node? Version rules and server settings, checked when a data
//! node is added.

/// Whether a data node running hyperdist `data` can serve an access node running `access`.
///
/// Same rule as TimescaleDB multi-node: the same major version and a data node at least as new in
/// the minor version. Before 1.0 every minor release may change the wire contract, so 0.x versions
/// must agree on the minor too. Patch releases never matter.
pub fn versions_compatible(access: &str, data: &str) -> bool {
    match (major_minor(access), major_minor(data)) {
        (Some((0, a_minor)), Some((0, d_minor))) => a_minor == d_minor,
        (Some((a_major, a_minor)), Some((d_major, d_minor))) => {
            a_major == d_major && d_minor >= a_minor
        }
        _ => false,
    }
}

fn major_minor(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.trim().split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().map_or(Some(0), |m| m.parse().ok())?;
    Some((major, minor))
}

/// Whether a `shared_preload_libraries` value loads `library`: entries may be quoted, carry a
/// directory (`$libdir/hyperdist`) or the `.so` suffix.
pub fn preloads(setting: &str, library: &str) -> bool {
    setting.split(',').any(|entry| {
        let entry = entry.trim().trim_matches('"');
        let file = entry.rsplit('/').next().unwrap_or(entry);
        file.strip_suffix(".so").unwrap_or(file) == library
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_version_is_compatible() {
        assert!(versions_compatible("0.1.0", "0.1.0"));
        assert!(versions_compatible("1.4.2", "1.4.0"));
    }

    #[test]
    fn before_one_point_oh_the_minor_must_match() {
        assert!(versions_compatible("0.1.0", "0.1.7"));
        assert!(!versions_compatible("0.1.0", "0.2.0"));
        assert!(!versions_compatible("0.2.0", "0.1.0"));
    }

    #[test]
    fn data_node_may_be_newer_in_minor_not_older() {
        assert!(versions_compatible("1.2.0", "1.3.0"));
        assert!(!versions_compatible("1.3.0", "1.2.9"));
        assert!(!versions_compatible("1.3.0", "2.0.0"));
    }

    #[test]
    fn garbage_is_incompatible() {
        assert!(!versions_compatible("0.1.0", ""));
        assert!(!versions_compatible("0.1.0", "dev"));
        assert!(!versions_compatible("x.1", "0.1.0"));
    }

    #[test]
    fn preload_entries_in_their_usual_spellings() {
        assert!(preloads("hyperdist", "hyperdist"));
        assert!(preloads("pg_stat_statements, hyperdist", "hyperdist"));
        assert!(preloads(
            "'$libdir/hyperdist'".trim_matches('\''),
            "hyperdist"
        ));
        assert!(preloads("\"hyperdist.so\",auto_explain", "hyperdist"));
        assert!(!preloads("", "hyperdist"));
        assert!(!preloads("hyperdist_pgrx_tests", "hyperdist"));
        assert!(!preloads("timescaledb", "hyperdist"));
    }
}
