//! One session on a data node.

use std::cell::RefCell;
use std::fmt;
use std::time::Duration;

use pgrx::PgSqlErrorCode;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Row};

use crate::error::{Report, SqlState};
use crate::guc;
use crate::remote::runtime::{self, Interrupted};
use crate::remote::stream::{SharedStream, WeakStream};

/// Session settings every remote session runs with, so that values and expressions the access node
/// sends mean the same there: names resolve in `pg_catalog` only, dates and intervals print in one
/// fixed style, floats round-trip exactly.
const SESSION_SETTINGS: &str = "SET search_path = pg_catalog; SET datestyle = ISO; \
     SET intervalstyle = postgres; SET extra_float_digits = 3; SET statement_timeout = 0";

/// Where and as whom to connect.
#[derive(Clone)]
pub struct ConnectionTarget {
    pub node_name: String,
    pub host: String,
    pub port: u16,
    pub dbname: String,
    pub user: String,
    pub password: Option<String>,
}

impl fmt::Debug for ConnectionTarget {
    // The password stays out of logs and error messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (host={} port={} dbname={} user={})",
            self.node_name, self.host, self.port, self.dbname, self.user
        )
    }
}

impl ConnectionTarget {
    /// The same node and user, another database (e.g. `postgres`, to create the node's database).
    pub fn with_dbname(&self, dbname: &str) -> ConnectionTarget {
        ConnectionTarget {
            dbname: dbname.to_string(),
            ..self.clone()
        }
    }

    fn config(&self, timeout: Duration) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .host(&self.host)
            .port(self.port)
            .dbname(&self.dbname)
            .user(&self.user)
            .application_name("hyperdist")
            .connect_timeout(timeout);
        if let Some(password) = &self.password {
            config.password(password);
        }
        config
    }
}

/// Why a remote operation failed. Reported as an error naming the data node.
#[derive(Debug)]
pub enum RemoteError {
    /// The node could not be reached, or refused the session.
    Connect { node: String, detail: String },
    /// The node ran the statement and raised an error.
    Server {
        node: String,
        error: Box<tokio_postgres::error::DbError>,
    },
    /// The session broke while in use.
    Lost { node: String, detail: String },
    /// The backend got a cancel or termination while waiting.
    Interrupted,
}

impl RemoteError {
    pub fn from_postgres(node: &str, err: tokio_postgres::Error) -> RemoteError {
        match err.as_db_error() {
            Some(db) => RemoteError::Server {
                node: node.to_string(),
                error: Box::new(db.clone()),
            },
            None => RemoteError::Lost {
                node: node.to_string(),
                detail: err.to_string(),
            },
        }
    }

    pub fn report(self) -> Report {
        match self {
            RemoteError::Connect { node, detail } => Report::new(
                PgSqlErrorCode::ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
                format!("could not connect to \"{node}\""),
            )
            .detail(detail)
            .hint(
                "Check that the data node's server is running and accepts connections from the \
                 access node (host, port, database, authentication); hyperdist.connect_timeout \
                 sets how long to wait.",
            ),
            RemoteError::Server { node, error } => {
                let mut report = Report::new(
                    SqlState::parse(error.code().code()),
                    format!("[{node}]: {}", error.message()),
                );
                if let Some(detail) = error.detail() {
                    report = report.detail(detail);
                }
                if let Some(hint) = error.hint() {
                    report = report.hint(hint);
                }
                report
            }
            RemoteError::Lost { node, detail } => Report::new(
                PgSqlErrorCode::ERRCODE_CONNECTION_FAILURE,
                format!("connection to data node \"{node}\" was lost"),
            )
            .detail(detail),
            RemoteError::Interrupted => runtime::raise_pending_interrupt(),
        }
    }

    pub fn raise(self) -> ! {
        self.report().raise()
    }

    /// A one-line description, for warnings.
    pub fn report_text(&self) -> String {
        match self {
            RemoteError::Connect { node, detail } => {
                format!("could not connect to \"{node}\": {detail}")
            }
            RemoteError::Server { node, error } => format!("[{node}]: {}", error.message()),
            RemoteError::Lost { node, detail } => {
                format!("connection to data node \"{node}\" was lost: {detail}")
            }
            RemoteError::Interrupted => "interrupted".to_string(),
        }
    }
}

/// An open session on a data node.
pub struct NodeConnection {
    node_name: String,
    client: Client,
    /// The COPY stream last started on the session, while its owner may still read it.
    streaming: RefCell<Option<WeakStream>>,
}

impl NodeConnection {
    /// Opens a session and pins its settings, within `timeout` for the whole handshake.
    pub fn open(
        target: &ConnectionTarget,
        timeout: Duration,
    ) -> Result<NodeConnection, RemoteError> {
        match runtime::block_on(connect(target, timeout)) {
            Err(Interrupted) => Err(RemoteError::Interrupted),
            Ok(result) => {
                result.map(|client| NodeConnection::from_client(&target.node_name, client))
            }
        }
    }

    /// Wraps a session opened with [`connect`].
    pub fn from_client(node_name: &str, client: Client) -> NodeConnection {
        NodeConnection {
            node_name: node_name.to_string(),
            client,
            streaming: RefCell::new(None),
        }
    }

    /// The session itself, for work that waits on several nodes at once.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Whether the session has ended (the node closed it, or it broke). Gives the connection a
    /// chance to notice an end that already arrived.
    pub fn is_closed(&self) -> bool {
        let _ = runtime::block_on_ignoring_interrupts(
            tokio::task::yield_now(),
            Duration::from_millis(50),
        );
        self.client.is_closed()
    }

    /// Runs a statement with parameters and returns its rows.
    pub fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, RemoteError> {
        self.run(sql, self.client.query(sql, params))
    }

    /// Runs one or more statements without parameters or results.
    pub fn batch_execute(&self, sql: &str) -> Result<(), RemoteError> {
        self.run(sql, self.client.batch_execute(sql))
    }

    fn run<T>(
        &self,
        sql: &str,
        request: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, RemoteError> {
        self.settle()?;
        if guc::log_remote_commands() {
            pgrx::log!("[{}]: {}", self.node_name, sql);
        }
        match runtime::block_on(request) {
            Ok(result) => result.map_err(|err| RemoteError::from_postgres(&self.node_name, err)),
            Err(Interrupted) => {
                self.cancel();
                Err(RemoteError::Interrupted)
            }
        }
    }

    /// Remembers `stream` as the one the session is sending.
    pub fn streaming(&self, stream: &SharedStream) {
        *self.streaming.borrow_mut() = Some(stream.downgrade());
    }

    /// Makes the session free for another request: a stream still being sent on it is read to
    /// its end, into memory, for its owner to read from there.
    pub fn settle(&self) -> Result<(), RemoteError> {
        let active = self.streaming.borrow_mut().take();
        let Some(stream) = active.and_then(|s| s.upgrade()) else {
            return Ok(());
        };
        if !stream.on_session() {
            return Ok(());
        }
        match runtime::block_on(stream.read_to_end()) {
            Ok(()) => Ok(()),
            Err(Interrupted) => {
                self.cancel();
                Err(RemoteError::Interrupted)
            }
        }
    }

    /// Asks the node to cancel whatever this session is running (best effort, bounded).
    pub fn cancel(&self) {
        let token = self.client.cancel_token();
        let _ = runtime::block_on_ignoring_interrupts(
            token.cancel_query(NoTls),
            Duration::from_secs(2),
        );
    }
}

/// Opens a session and pins its settings, within `timeout` for the whole handshake (a node that
/// accepts TCP connections but never answers counts as unreachable too). For fan-out work that
/// waits on several nodes at once; [`NodeConnection::open`] wraps it for one node.
pub async fn connect(target: &ConnectionTarget, timeout: Duration) -> Result<Client, RemoteError> {
    let config = target.config(timeout);
    let handshake = async {
        let (client, connection) = config.connect(NoTls).await?;
        // The connection future does the socket I/O; it makes progress whenever this backend
        // waits on the runtime, and ends when the client is dropped.
        tokio::spawn(connection);
        client.batch_execute(SESSION_SETTINGS).await?;
        Ok::<_, tokio_postgres::Error>(client)
    };
    match tokio::time::timeout(timeout, handshake).await {
        Err(_elapsed) => Err(RemoteError::Connect {
            node: target.node_name.clone(),
            detail: format!("no answer within {} ms", timeout.as_millis()),
        }),
        Ok(Err(err)) => Err(RemoteError::Connect {
            node: target.node_name.clone(),
            detail: describe(&err),
        }),
        Ok(Ok(client)) => Ok(client),
    }
}

/// The most useful line of a connection error: the server's message when it sent one.
fn describe(err: &tokio_postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => db.message().to_string(),
        None => {
            let mut text = err.to_string();
            let mut source = std::error::Error::source(err);
            while let Some(cause) = source {
                text = format!("{text}: {cause}");
                source = cause.source();
            }
            text
        }
    }
}
