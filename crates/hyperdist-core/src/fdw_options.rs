//! Which options `hyperdist_fdw` objects accept, and whether their values make sense.
//!
//! A data node is a foreign server of `hyperdist_fdw`; its connection options (and a user mapping's
//! credentials) are checked here when they are created or altered, so a typo fails at `CREATE
//! SERVER` time instead of when the first query tries to connect.

use std::fmt;

/// The catalog an option list belongs to, as PostgreSQL tells the validator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionTarget {
    Wrapper,
    Server,
    UserMapping,
    ForeignTable,
}

impl OptionTarget {
    /// Option names accepted on this kind of object, in the order a HINT lists them.
    pub fn valid_names(self) -> &'static [&'static str] {
        match self {
            OptionTarget::Wrapper | OptionTarget::ForeignTable => &[],
            OptionTarget::Server => &["host", "port", "dbname", "available"],
            OptionTarget::UserMapping => &["user", "password"],
        }
    }
}

impl fmt::Display for OptionTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OptionTarget::Wrapper => "foreign-data wrapper",
            OptionTarget::Server => "foreign server",
            OptionTarget::UserMapping => "user mapping",
            OptionTarget::ForeignTable => "foreign table",
        })
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum OptionError {
    #[error("invalid option \"{name}\"")]
    UnknownName { name: String, target: OptionTarget },
    #[error("invalid value for option \"{name}\": \"{value}\"")]
    InvalidValue {
        name: String,
        value: String,
        expected: &'static str,
    },
    #[error("malformed option \"{0}\"")]
    Malformed(String),
}

impl OptionError {
    /// What the user can do about it, for the error's HINT.
    pub fn hint(&self) -> String {
        match self {
            OptionError::UnknownName { target, .. } => match target.valid_names() {
                [] => format!("A {target} of hyperdist_fdw takes no options."),
                names => format!("Valid options in this context are: {}.", names.join(", ")),
            },
            OptionError::InvalidValue { expected, .. } => format!("Use {expected}."),
            OptionError::Malformed(_) => "Options are given as name 'value' pairs.".to_string(),
        }
    }
}

/// Splits one `name=value` entry, the form PostgreSQL hands option lists to a validator in.
pub fn split_entry(entry: &str) -> Result<(&str, &str), OptionError> {
    entry
        .split_once('=')
        .ok_or_else(|| OptionError::Malformed(entry.to_string()))
}

/// Checks one option of an object of kind `target`.
pub fn validate(target: OptionTarget, name: &str, value: &str) -> Result<(), OptionError> {
    if !target.valid_names().contains(&name) {
        return Err(OptionError::UnknownName {
            name: name.to_string(),
            target,
        });
    }
    let invalid = |expected| OptionError::InvalidValue {
        name: name.to_string(),
        value: value.to_string(),
        expected,
    };
    match name {
        "port" => match value.trim().parse::<u32>() {
            Ok(port) if (1..=65535).contains(&port) => Ok(()),
            _ => Err(invalid("a port number between 1 and 65535")),
        },
        "available" if !matches!(value, "true" | "false") => Err(invalid("true or false")),
        "host" | "dbname" | "user" if value.is_empty() => Err(invalid("a non-empty name")),
        _ => Ok(()),
    }
}

/// Checks a whole `name=value` option list.
pub fn validate_entries<'a>(
    target: OptionTarget,
    entries: impl IntoIterator<Item = &'a str>,
) -> Result<(), OptionError> {
    entries.into_iter().try_for_each(|entry| {
        let (name, value) = split_entry(entry)?;
        validate(target, name, value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_accepts_connection_options() {
        let ok = ["host=dn1.example.com", "port=5432", "dbname=metrics"];
        assert_eq!(validate_entries(OptionTarget::Server, ok), Ok(()));
    }

    #[test]
    fn unknown_option_names_the_valid_ones() {
        let err = validate_entries(OptionTarget::Server, ["hots=dn1"]).unwrap_err();
        assert_eq!(err.to_string(), "invalid option \"hots\"");
        assert_eq!(
            err.hint(),
            "Valid options in this context are: host, port, dbname, available."
        );
    }

    #[test]
    fn credentials_belong_on_the_user_mapping_not_the_server() {
        assert!(validate(OptionTarget::Server, "password", "secret").is_err());
        assert_eq!(
            validate(OptionTarget::UserMapping, "password", "secret"),
            Ok(())
        );
        assert_eq!(validate(OptionTarget::UserMapping, "user", "alice"), Ok(()));
    }

    #[test]
    fn wrapper_and_tables_take_no_options() {
        for target in [OptionTarget::Wrapper, OptionTarget::ForeignTable] {
            let err = validate(target, "host", "x").unwrap_err();
            assert_eq!(
                err.hint(),
                format!("A {target} of hyperdist_fdw takes no options.")
            );
        }
    }

    #[test]
    fn port_must_be_a_tcp_port() {
        for bad in ["0", "65536", "-1", "abc", "", "5432x"] {
            let err = validate(OptionTarget::Server, "port", bad).unwrap_err();
            assert!(
                matches!(err, OptionError::InvalidValue { .. }),
                "port {bad:?} gave {err:?}"
            );
            assert_eq!(err.hint(), "Use a port number between 1 and 65535.");
        }
        for good in ["1", "5432", "65535"] {
            assert_eq!(validate(OptionTarget::Server, "port", good), Ok(()));
        }
    }

    #[test]
    fn availability_is_a_boolean() {
        assert_eq!(validate(OptionTarget::Server, "available", "false"), Ok(()));
        assert_eq!(validate(OptionTarget::Server, "available", "true"), Ok(()));
        let err = validate(OptionTarget::Server, "available", "no").unwrap_err();
        assert_eq!(err.hint(), "Use true or false.");
    }

    #[test]
    fn names_may_not_be_empty() {
        assert!(validate(OptionTarget::Server, "host", "").is_err());
        assert!(validate(OptionTarget::Server, "dbname", "").is_err());
        assert!(validate(OptionTarget::UserMapping, "user", "").is_err());
        // An empty password is the user's business (trust authentication ignores it).
        assert_eq!(validate(OptionTarget::UserMapping, "password", ""), Ok(()));
    }

    #[test]
    fn values_may_contain_equals_signs() {
        assert_eq!(split_entry("password=a=b"), Ok(("password", "a=b")));
        assert_eq!(
            split_entry("novalue"),
            Err(OptionError::Malformed("novalue".to_string()))
        );
    }
}
