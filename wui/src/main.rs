//! `else-wui [--check] [CONFIG]` (default /etc/else/wui.toml): the ELSE web
//! UI. Threading: one tokio runtime; each request takes one pooled
//! authenticator connection for one transaction as the person; sessions and
//! the login limiter are behind short mutexes.
mod config;
mod db;
mod pages;
mod session;
mod web;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

fn main() {
    let mut check = false;
    let mut path = PathBuf::from("/etc/else/wui.toml");
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--check" => check = true,
            "-h" | "--help" => {
                println!(
                    "usage: else-wui [--check] [CONFIG]   (default {})",
                    path.display()
                );
                return;
            }
            _ => path = PathBuf::from(a),
        }
    }
    let cfg = match config::Config::load(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("else-wui: {e}");
            std::process::exit(2);
        }
    };
    if check {
        println!("else-wui: {} is valid", path.display());
        return;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(e) = rt.block_on(run(cfg)) {
        eprintln!("else-wui: {e}");
        std::process::exit(1);
    }
}

async fn run(cfg: config::Config) -> Result<(), String> {
    let app = Arc::new(web::App {
        db: db::Db::new(&cfg.database).map_err(|e| e.to_string())?,
        sessions: session::Sessions::new(Duration::from_secs(cfg.session.idle_minutes * 60)),
        tls: cfg.tls(),
    });
    let service = web::router(app).into_make_service_with_connect_info::<SocketAddr>();
    let handle = axum_server::Handle::new();
    let h = handle.clone();
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        h.graceful_shutdown(Some(Duration::from_secs(5)));
    });
    let addr = cfg.listen.address;
    match (&cfg.listen.tls_cert, &cfg.listen.tls_key) {
        (Some(cert), Some(key)) => {
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .map_err(|e| format!("listen.tls_cert/tls_key: {e}"))?;
            eprintln!("else-wui: listening on https://{addr}/");
            axum_server::bind_rustls(addr, tls).handle(handle).serve(service).await
        }
        _ => {
            if !addr.ip().is_loopback() {
                eprintln!("else-wui: warning: serving without TLS on {addr}: passwords cross the network in clear (set listen.tls_cert and tls_key)");
            }
            eprintln!("else-wui: listening on http://{addr}/");
            axum_server::bind(addr).handle(handle).serve(service).await
        }
    }
    .map_err(|e| format!("listen {addr}: {e}"))
}
