//! The only module that talks to PostgreSQL. Every page query runs as the
//! person: one transaction on an authenticator connection, which first
//! switches to their role (`set_config('role', $1, true)`, i.e. SET LOCAL
//! ROLE, undone at commit or rollback). PostgreSQL's grants and pg_else's
//! scoping then decide what the person sees; the web UI adds no rule of its
//! own. Passwords are checked by logging in as the person once, never stored.
use crate::config::Database;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use std::time::Duration;
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;

pub use deadpool_postgres::Transaction;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("the database is not reachable: {0}")]
    Unavailable(String),
    #[error("not allowed: {0}")]
    Forbidden(String),
    /// An error PostgreSQL reports about the request (a bad value, an
    /// unknown status): its message is meant for the person.
    #[error("{0}")]
    Request(String),
    #[error("database error: {0}")]
    Other(String),
    #[error("{0}")]
    Tls(#[from] greylse::tls::TlsError),
}

impl From<tokio_postgres::Error> for DbError {
    fn from(e: tokio_postgres::Error) -> Self {
        match e.as_db_error() {
            Some(d) if *d.code() == SqlState::INSUFFICIENT_PRIVILEGE => {
                DbError::Forbidden(d.message().to_owned())
            }
            Some(d)
                if d.code().code().starts_with("22")
                    || d.code().code().starts_with("23")
                    || *d.code() == SqlState::RAISE_EXCEPTION
                    || *d.code() == SqlState::INVALID_PARAMETER_VALUE =>
            {
                let mut m = d.message().to_owned();
                if let Some(h) = d.hint() {
                    m.push_str(" (");
                    m.push_str(h);
                    m.push(')');
                }
                DbError::Request(m)
            }
            Some(d) => DbError::Other(d.message().to_owned()),
            None => DbError::Unavailable(e.to_string()),
        }
    }
}

impl From<deadpool_postgres::PoolError> for DbError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            e => DbError::Unavailable(e.to_string()),
        }
    }
}

/// What a person may use, as PostgreSQL says (role membership).
#[derive(Clone, Copy, Debug, Default)]
pub struct Caps {
    pub analyst: bool,
    pub admin: bool,
    pub greylse: bool,
}

pub struct Db {
    pool: Pool,
    login: tokio_postgres::Config,
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
}

/// A statement that runs longer than this is cancelled: a page never hangs.
const STATEMENT_TIMEOUT: &str = "30s";

impl Db {
    pub fn new(cfg: &Database) -> Result<Db, DbError> {
        let auth: tokio_postgres::Config = cfg
            .conninfo
            .parse()
            .map_err(|e: tokio_postgres::Error| DbError::Other(e.to_string()))?;
        let mut login: tokio_postgres::Config = cfg
            .login
            .parse()
            .map_err(|e: tokio_postgres::Error| DbError::Other(e.to_string()))?;
        login.application_name("else-wui login");
        login.connect_timeout(Duration::from_secs(5));
        let needs_tls = |c: &tokio_postgres::Config| c.get_ssl_mode() == SslMode::Require;
        let tls = if needs_tls(&auth) || needs_tls(&login) {
            Some(greylse::tls::connector(cfg.ca_file.as_deref())?)
        } else {
            None
        };
        for c in [&auth, &login] {
            if let Some(w) = greylse::tls::cleartext_warning(c) {
                eprintln!("else-wui: {w}");
            }
        }
        let mut auth = auth;
        auth.application_name("else-wui");
        auth.connect_timeout(Duration::from_secs(5));
        let mgr_cfg = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let mgr = match (&tls, needs_tls(&auth)) {
            (Some(t), true) => Manager::from_config(auth, t.clone(), mgr_cfg),
            _ => Manager::from_config(auth, NoTls, mgr_cfg),
        };
        let pool = Pool::builder(mgr)
            .max_size(cfg.connections)
            .wait_timeout(Some(Duration::from_secs(10)))
            .create_timeout(Some(Duration::from_secs(5)))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| DbError::Other(e.to_string()))?;
        Ok(Db { pool, login, tls })
    }

    /// Check `user`'s password by logging in as them, and that the web UI may
    /// act as them. Returns what they may use.
    pub async fn login(&self, user: &str, password: &str) -> Result<Caps, DbError> {
        let mut c = self.login.clone();
        c.user(user).password(password);
        let tried = match (&self.tls, c.get_ssl_mode() == SslMode::Require) {
            (Some(t), true) => c.connect(t.clone()).await.map(|(_, conn)| {
                tokio::spawn(conn);
            }),
            _ => c.connect(NoTls).await.map(|(_, conn)| {
                tokio::spawn(conn);
            }),
        };
        if let Err(e) = tried {
            // Wrong password, unknown role, no LOGIN, pg_hba refusal: one
            // answer for all, so that names cannot be probed.
            return Err(match e.as_db_error().map(|d| d.code().code()) {
                Some(c) if c.starts_with("28") => {
                    DbError::Forbidden("wrong user name or password".into())
                }
                _ => e.into(),
            });
        }
        let mut conn = self.pool.get().await?;
        let tx = conn.transaction().await?;
        let may: bool = tx
            .query_one(
                "SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1) AND pg_has_role(current_user, $1, 'MEMBER')",
                &[&user],
            )
            .await?
            .get(0);
        if !may {
            return Err(DbError::Forbidden(
                "this role is not enabled for the web UI (a DBA runs GRANT <role> TO <the web UI's role>)".into(),
            ));
        }
        switch(&tx, user).await?;
        let caps = caps(&tx).await?;
        tx.commit().await?;
        Ok(caps)
    }

    /// Run as `role`: the caller issues queries on the returned transaction
    /// and commits it (dropping it rolls back).
    pub async fn begin(&self, role: &str) -> Result<Session, DbError> {
        Ok(Session {
            conn: self.pool.get().await?,
            role: role.to_owned(),
        })
    }
}

/// A pooled connection reserved for one request of one person.
pub struct Session {
    conn: deadpool_postgres::Object,
    role: String,
}

impl Session {
    pub async fn tx(&mut self) -> Result<Transaction<'_>, DbError> {
        let tx = self.conn.transaction().await?;
        switch(&tx, &self.role).await?;
        Ok(tx)
    }
}

async fn switch(tx: &Transaction<'_>, role: &str) -> Result<(), DbError> {
    tx.execute(
        "SELECT set_config('role', $1, true), set_config('statement_timeout', $2, true)",
        &[&role, &STATEMENT_TIMEOUT],
    )
    .await?;
    Ok(())
}

/// The person's capabilities, asked as the person.
pub async fn caps(tx: &Transaction<'_>) -> Result<Caps, DbError> {
    let r = tx
        .query_one(
            "SELECT pg_has_role(current_user, 'else_analyst', 'USAGE'),
                    pg_has_role(current_user, 'else_admin', 'USAGE'),
                    pg_has_role(current_user, 'greylse_admin', 'USAGE')",
            &[],
        )
        .await?;
    Ok(Caps {
        analyst: r.get(0),
        admin: r.get(1),
        greylse: r.get(2),
    })
}
