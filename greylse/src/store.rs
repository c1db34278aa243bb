//! The database side. Requests are batched: each of `database.connections`
//! batcher tasks owns one connection, takes every decision waiting (up to
//! [`MAX_BATCH`]) and sends them in one statement, greylse.decide_many(),
//! so a busy server pays one round trip for many RCPTs instead of one each
//! (measured with scripts/bench-greylse; README "GreyLSE"). A broken
//! connection is opened again for the next batch.
use crate::config::Config;
use crate::decision::Verdict;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Mutex};
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, NoTls, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

/// Decisions sent in one statement at most.
pub const MAX_BATCH: usize = 128;
/// tokio-postgres' own text for a server error is only "db error".
impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        StoreError::Db(match e.as_db_error() {
            Some(d) => format!("{} ({})", d.message(), d.code().code()),
            None => {
                // The cause (e.g. the certificate check) is in the source chain.
                let mut text = e.to_string();
                let mut cause = std::error::Error::source(&e);
                while let Some(c) = cause {
                    text.push_str(": ");
                    text.push_str(&c.to_string());
                    cause = c.source();
                }
                text
            }
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(String),
    #[error("database did not answer within {0:?}")]
    Timeout(Duration),
    #[error("greylse.decide() answered an unknown verdict {0:?}")]
    Verdict(String),
}

struct Conn {
    client: Client,
    decide_many: Statement,
}

/// What the batchers share: how to connect and what to pass.
struct Inner {
    conninfo: String,
    budget: Duration,
    instance: String,
    settings: serde_json::Value,
    params: [i32; 6],
    /// For `sslmode=require` (see tls.rs).
    tls: Option<MakeRustlsConnect>,
}

/// One decision waiting for its batch.
struct Pending {
    client: IpAddr,
    client_name: String,
    sender: String,
    recipient: String,
    reply: oneshot::Sender<Result<Verdict, StoreError>>,
}

pub struct Store {
    inner: Arc<Inner>,
    queue: mpsc::Sender<Pending>,
}

/// What one decision needs from a request (already normalised).
pub struct Query<'a> {
    pub client: IpAddr,
    pub client_name: &'a str,
    pub sender: &'a str,
    pub recipient: &'a str,
}

impl Inner {
    async fn connect(&self) -> Result<Conn, StoreError> {
        let cfg: tokio_postgres::Config = self.conninfo.parse()?;
        // Each connection task ends when its connection breaks.
        let client = match (&self.tls, cfg.get_ssl_mode()) {
            (Some(tls), SslMode::Require) => {
                let (client, connection) = cfg.connect(tls.clone()).await?;
                tokio::spawn(connection);
                client
            }
            _ => {
                let (client, connection) = cfg.connect(NoTls).await?;
                tokio::spawn(connection);
                client
            }
        };
        // The server gives up a little before we do, so no work is left behind.
        let ms = self.budget.as_millis().max(2) - 1;
        client
            .batch_execute(&format!(
                "SET statement_timeout = {ms}; SET application_name = 'greylse'"
            ))
            .await?;
        client
            .execute(
                "SELECT greylse.hello($1, $2)",
                &[&self.instance, &self.settings],
            )
            .await?;
        let decide_many = client
            .prepare(
                "SELECT n, verdict, detail, remaining FROM greylse.decide_many($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .await?;
        Ok(Conn {
            client,
            decide_many,
        })
    }

    /// One batch in one statement; the verdicts in request order.
    async fn run(&self, conn: &Conn, batch: &[Pending]) -> Result<Vec<Verdict>, StoreError> {
        let clients: Vec<IpAddr> = batch.iter().map(|p| p.client).collect();
        let names: Vec<&str> = batch.iter().map(|p| p.client_name.as_str()).collect();
        let senders: Vec<&str> = batch.iter().map(|p| p.sender.as_str()).collect();
        let rcpts: Vec<&str> = batch.iter().map(|p| p.recipient.as_str()).collect();
        let p = &self.params;
        let rows = conn
            .client
            .query(
                &conn.decide_many,
                &[
                    &clients, &names, &senders, &rcpts, &p[0], &p[1], &p[2], &p[3], &p[4], &p[5],
                ],
            )
            .await?;
        let mut out = Vec::with_capacity(batch.len());
        for row in rows {
            let (v, d, r): (String, Option<String>, i32) = (row.get(1), row.get(2), row.get(3));
            out.push(
                Verdict::from_row(&v, d.as_deref().unwrap_or(""), r)
                    .ok_or(StoreError::Verdict(v))?,
            );
        }
        if out.len() != batch.len() {
            return Err(StoreError::Db(format!(
                "greylse.decide_many() answered {} rows for {} requests",
                out.len(),
                batch.len()
            )));
        }
        Ok(out)
    }
}

/// One batcher: take what waits, decide it in one statement, answer each.
async fn batcher(inner: Arc<Inner>, queue: Arc<Mutex<mpsc::Receiver<Pending>>>) {
    let mut conn: Option<Conn> = None;
    loop {
        let mut batch = Vec::new();
        {
            let mut rx = queue.lock().await;
            match rx.recv().await {
                Some(p) => batch.push(p),
                None => return,
            }
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(p) => batch.push(p),
                    Err(_) => break,
                }
            }
        }
        // Requests whose caller already gave up (budget over) are not decided.
        batch.retain(|p| !p.reply.is_closed());
        if batch.is_empty() {
            continue;
        }
        let result = async {
            if conn.as_ref().is_none_or(|c| c.client.is_closed()) {
                conn = Some(inner.connect().await?);
            }
            let c = conn.as_ref().expect("connected just above");
            inner.run(c, &batch).await
        };
        match tokio::time::timeout(inner.budget, result).await {
            Ok(Ok(verdicts)) => {
                for (p, v) in batch.into_iter().zip(verdicts) {
                    let _ = p.reply.send(Ok(v));
                }
            }
            Ok(Err(e)) => {
                conn = None;
                for p in batch {
                    let _ = p.reply.send(Err(StoreError::Db(e.to_string())));
                }
            }
            Err(_) => {
                conn = None;
                for p in batch {
                    let _ = p.reply.send(Err(StoreError::Timeout(inner.budget)));
                }
            }
        }
    }
}

impl Store {
    /// Starts the batcher tasks (call inside the tokio runtime).
    pub fn new(cfg: &Config, tls: Option<MakeRustlsConnect>) -> Store {
        let g = &cfg.greylist;
        let int = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
        let inner = Arc::new(Inner {
            conninfo: cfg.database.conninfo.clone(),
            budget: Duration::from_millis(cfg.log.budget_ms),
            instance: cfg.log.instance.clone(),
            settings: cfg.public_json(),
            params: [
                int(g.delay_s),
                int(g.retry_window_s),
                int(g.awl_passes),
                int(g.awl_lifetime_s),
                i32::from(g.prefix4),
                i32::from(g.prefix6),
            ],
            tls,
        });
        // Bounded: when the database is slow, callers wait (within their
        // budget) instead of queueing without limit.
        let (tx, rx) = mpsc::channel(cfg.listen.max_connections.max(1) * 2);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..cfg.database.connections {
            tokio::spawn(batcher(inner.clone(), rx.clone()));
        }
        Store { inner, queue: tx }
    }

    /// The verdict for one request, within the budget.
    pub async fn decide(&self, q: &Query<'_>) -> Result<Verdict, StoreError> {
        let budget = self.inner.budget;
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            client: q.client,
            client_name: q.client_name.to_owned(),
            sender: q.sender.to_owned(),
            recipient: q.recipient.to_owned(),
            reply,
        };
        let work = async {
            self.queue
                .send(pending)
                .await
                .map_err(|_| StoreError::Db("the batchers stopped".into()))?;
            answer
                .await
                .map_err(|_| StoreError::Db("the batcher dropped the request".into()))?
        };
        match tokio::time::timeout(budget, work).await {
            Ok(r) => r,
            Err(_) => Err(StoreError::Timeout(budget)),
        }
    }

    /// greylse.expire(): forget old triplets and AWL entries (own connection).
    pub async fn expire(
        &self,
        retry_window_s: u32,
        awl_lifetime_s: u32,
    ) -> Result<i64, StoreError> {
        let c = self.inner.connect().await?;
        let (w, l) = (
            i32::try_from(retry_window_s).unwrap_or(i32::MAX),
            i32::try_from(awl_lifetime_s).unwrap_or(i32::MAX),
        );
        let row = c
            .client
            .query_one("SELECT greylse.expire($1, $2)", &[&w, &l])
            .await?;
        Ok(row.get(0))
    }
}
