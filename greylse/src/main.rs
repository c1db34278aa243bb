//! `greylse [--check] [CONFIG]` (default /etc/greylse/greylse.toml).
use greylse::config::Config;
use greylse::logline::Severity;
use greylse::server::{serve, State};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, UnixListener};

fn main() {
    let mut check = false;
    let mut path = PathBuf::from("/etc/greylse/greylse.toml");
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--check" => check = true,
            "-h" | "--help" => {
                println!(
                    "usage: greylse [--check] [CONFIG]   (default {})",
                    path.display()
                );
                return;
            }
            _ => path = PathBuf::from(a),
        }
    }
    let cfg = match Config::load(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("greylse: {e}");
            std::process::exit(2);
        }
    };
    if check {
        println!("greylse: {} is valid", path.display());
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(e) = rt.block_on(run(cfg)) {
        eprintln!("greylse: {e}");
        std::process::exit(1);
    }
}

async fn run(cfg: Config) -> Result<(), String> {
    let spf = if cfg.spf.enabled {
        Some(greylse::spf::Checker::new(&cfg.spf).map_err(|e| e.to_string())?)
    } else {
        None
    };
    let pg: tokio_postgres::Config = cfg
        .database
        .conninfo
        .parse()
        .map_err(|e| format!("database.conninfo: {e}"))?;
    let tls = match pg.get_ssl_mode() {
        tokio_postgres::config::SslMode::Require => Some(
            greylse::tls::connector(cfg.database.ca_file.as_deref()).map_err(|e| e.to_string())?,
        ),
        _ => None,
    };
    let warning = greylse::tls::cleartext_warning(&pg);
    let state = Arc::new(State::new(cfg, spf, tls));
    if let Some(w) = warning {
        state.log.send(Severity::Warning, &w);
    }
    let mut tasks = Vec::new();
    for addr in &state.cfg.listen.tcp {
        let l = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("listen on {addr}: {e}"))?;
        let st = state.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let Ok((s, _)) = l.accept().await else {
                    continue;
                };
                let _ = s.set_nodelay(true);
                spawn_conn(&st, s);
            }
        }));
    }
    if let Some(p) = &state.cfg.listen.unix {
        // A socket left by a previous run; anything else at the path is an error.
        if std::fs::symlink_metadata(p)
            .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()))
        {
            let _ = std::fs::remove_file(p);
        }
        let l = UnixListener::bind(p).map_err(|e| format!("listen on {}: {e}", p.display()))?;
        let mode = u32::from_str_radix(&state.cfg.listen.unix_mode, 8).unwrap_or(0o660);
        std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(mode))
            .map_err(|e| format!("chmod {}: {e}", p.display()))?;
        let st = state.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let Ok((s, _)) = l.accept().await else {
                    continue;
                };
                spawn_conn(&st, s);
            }
        }));
    }
    // Forget old state now and then, on its own schedule.
    let st = state.clone();
    tasks.push(tokio::spawn(async move {
        let g = &st.cfg.greylist;
        let mut tick = tokio::time::interval(Duration::from_secs(g.expire_every_s.max(1)));
        loop {
            tick.tick().await;
            if let Err(e) = st.store.expire(g.retry_window_s, g.awl_lifetime_s).await {
                st.log
                    .send(Severity::Warning, &format!("warning: expiry: {e}"));
            }
        }
    }));
    state.log.send(
        Severity::Info,
        &format!(
            "started: tcp {:?} unix {:?} delay {} s",
            state.cfg.listen.tcp, state.cfg.listen.unix, state.cfg.greylist.delay_s
        ),
    );
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| e.to_string())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    state.log.send(Severity::Info, "stopping");
    if let Some(p) = &state.cfg.listen.unix {
        let _ = std::fs::remove_file(p);
    }
    Ok(())
}

/// One task per connection, or close it at once when all slots are taken.
fn spawn_conn<S>(state: &Arc<State>, s: S)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let Ok(permit) = state.slots.clone().try_acquire_owned() else {
        return;
    };
    let st = state.clone();
    tokio::spawn(async move {
        serve(st, s).await;
        drop(permit);
    });
}
