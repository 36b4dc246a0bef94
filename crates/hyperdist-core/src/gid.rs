//! Global transaction ids of hyperdist's two-phase commit.
//!
//! `hyperdist-<access node database uuid>-<access node full xid>-<server oid>-<user oid>`. The uuid
//! names the access node's database (so several databases or clusters sharing a data node never
//! take each other's prepared transactions); the full (epoch-qualified) xid lets the healer ask the
//! access node what became of the transaction; server and user tell apart the sessions of one
//! transaction on one node.

use std::fmt;

const PREFIX: &str = "hyperdist";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gid {
    pub cluster: String,
    pub xid: u64,
    pub server: u32,
    pub user: u32,
}

impl fmt::Display for Gid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PREFIX}-{}-{}-{}-{}",
            self.cluster, self.xid, self.server, self.user
        )
    }
}

impl Gid {
    /// The prefix every gid of this access node database starts with.
    pub fn prefix_of(cluster: &str) -> String {
        format!("{PREFIX}-{cluster}-")
    }

    /// Parses a gid; `None` for anything that is not one of ours.
    pub fn parse(text: &str) -> Option<Gid> {
        let rest = text.strip_prefix(PREFIX)?.strip_prefix('-')?;
        // The uuid has four dashes of its own; the last three fields are numbers.
        let mut tail = rest.rsplitn(4, '-');
        let user = tail.next()?.parse().ok()?;
        let server = tail.next()?.parse().ok()?;
        let xid = tail.next()?.parse().ok()?;
        let cluster = tail.next()?.to_string();
        (!cluster.is_empty()).then_some(Gid {
            cluster,
            xid,
            server,
            user,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UUID: &str = "0b4e9c1e-3d2f-4a57-9c1b-6f2d8e7a1c00";

    #[test]
    fn round_trip() {
        let gid = Gid {
            cluster: UUID.to_string(),
            xid: 4_294_967_296 + 771,
            server: 16_384,
            user: 10,
        };
        let text = gid.to_string();
        assert_eq!(text, format!("hyperdist-{UUID}-4294968067-16384-10"));
        assert!(text.len() < 200, "PostgreSQL allows 200 bytes");
        assert_eq!(Gid::parse(&text), Some(gid));
        assert!(text.starts_with(&Gid::prefix_of(UUID)));
    }

    #[test]
    fn foreign_gids_are_not_ours() {
        for other in [
            "ts-1-540621498-20818-20824",
            "citus_0_1234_5_6",
            "hyperdist-",
            "hyperdist-abc-x-1-2",
            "hyperdist--1-2-3",
            "",
        ] {
            assert_eq!(Gid::parse(other), None, "{other}");
        }
    }
}
