//! The database side: a few tokio-postgres connections shared by all
//! requests (tokio-postgres pipelines concurrent queries on one connection),
//! reconnected when they break. One statement per decision: greylse.decide().
use crate::config::Config;
use crate::decision::Verdict;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::RwLock;
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, NoTls, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

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
    decide: Statement,
}

pub struct Store {
    conninfo: String,
    slots: Vec<RwLock<Option<Arc<Conn>>>>,
    next: AtomicUsize,
    budget: Duration,
    instance: String,
    settings: serde_json::Value,
    params: [i32; 6],
    /// For `sslmode=require` (see tls.rs).
    tls: Option<MakeRustlsConnect>,
}

/// What one decision needs from a request (already normalised).
pub struct Query<'a> {
    pub client: IpAddr,
    pub client_name: &'a str,
    pub sender: &'a str,
    pub recipient: &'a str,
}

impl Store {
    pub fn new(cfg: &Config, tls: Option<MakeRustlsConnect>) -> Store {
        let g = &cfg.greylist;
        let int = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
        Store {
            conninfo: cfg.database.conninfo.clone(),
            slots: (0..cfg.database.connections)
                .map(|_| RwLock::new(None))
                .collect(),
            next: AtomicUsize::new(0),
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
        }
    }

    async fn connect(&self) -> Result<Arc<Conn>, StoreError> {
        let cfg: tokio_postgres::Config = self.conninfo.parse()?;
        // Each connection task ends when its connection breaks; the next
        // query then reconnects.
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
        let decide = client
            .prepare(
                "SELECT verdict, detail, remaining FROM greylse.decide($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .await?;
        Ok(Arc::new(Conn { client, decide }))
    }

    /// A live connection from the next slot, connecting it if needed.
    async fn conn(&self) -> Result<Arc<Conn>, StoreError> {
        let slot = &self.slots[self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len()];
        if let Some(c) = slot.read().await.as_ref() {
            if !c.client.is_closed() {
                return Ok(c.clone());
            }
        }
        let mut w = slot.write().await;
        if let Some(c) = w.as_ref() {
            if !c.client.is_closed() {
                return Ok(c.clone());
            }
        }
        *w = None;
        let c = self.connect().await?;
        *w = Some(c.clone());
        Ok(c)
    }

    /// greylse.decide() for one request, within the budget.
    pub async fn decide(&self, q: &Query<'_>) -> Result<Verdict, StoreError> {
        let work = async {
            let c = self.conn().await?;
            let p = &self.params;
            let row = c
                .client
                .query_one(
                    &c.decide,
                    &[
                        &q.client,
                        &q.client_name,
                        &q.sender,
                        &q.recipient,
                        &p[0],
                        &p[1],
                        &p[2],
                        &p[3],
                        &p[4],
                        &p[5],
                    ],
                )
                .await?;
            let (v, d, r): (String, Option<String>, i32) = (row.get(0), row.get(1), row.get(2));
            Verdict::from_row(&v, d.as_deref().unwrap_or(""), r).ok_or(StoreError::Verdict(v))
        };
        match tokio::time::timeout(self.budget, work).await {
            Ok(r) => r,
            Err(_) => Err(StoreError::Timeout(self.budget)),
        }
    }

    /// greylse.expire(): forget old triplets and AWL entries.
    pub async fn expire(
        &self,
        retry_window_s: u32,
        awl_lifetime_s: u32,
    ) -> Result<i64, StoreError> {
        let c = self.conn().await?;
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
