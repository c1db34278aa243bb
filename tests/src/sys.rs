//! Small helpers around processes, users and ports.
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// True when the tests run as root (CI): servers then run as the `postgres` user.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A free loopback TCP port (bound then released; good enough for tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind a loopback port")
        .local_addr()
        .unwrap()
        .port()
}

/// Fail with a clear message naming the install step when a program is missing.
pub fn require(path: &str, install_hint: &str) {
    assert!(
        Path::new(path).exists(),
        "{path} is missing: run the README's setup (scripts/setup installs {install_hint})"
    );
}

/// Run `cmd`, panicking with its output when it fails.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Poll `cond` every 20 ms until it holds or `timeout` passes.
pub fn wait_for(what: &str, timeout: Duration, cond: impl FnMut() -> bool) {
    wait_for_or(what, timeout, cond, String::new);
}

/// [`wait_for`], and on timeout the panic message adds `describe()` (logs,
/// the last answer) so that the failure says why.
pub fn wait_for_or(
    what: &str,
    timeout: Duration,
    mut cond: impl FnMut() -> bool,
    describe: impl Fn() -> String,
) {
    let start = Instant::now();
    while !cond() {
        if start.elapsed() > timeout {
            panic!(
                "timed out after {timeout:?} waiting for {what}\n{}",
                describe()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Give a folder to the `postgres` user when running as root.
pub fn chown_postgres(dir: &Path) {
    if is_root() {
        run(Command::new("chown")
            .arg("-R")
            .arg("postgres:postgres")
            .arg(dir));
    }
}

/// A temporary folder that other users (postgres, postfix) can enter, removed on drop.
pub fn shared_tempdir(prefix: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("tempdir");
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    dir
}

/// A program of this workspace: the path in environment variable `var`
/// (scripts/test sets it), else the release build in target/plain.
pub fn workspace_binary(var: &str, name: &str) -> PathBuf {
    std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/plain/release")
            .join(name)
    })
}

/// Start a daemon of this workspace as `bin CONFIG`, its stderr in
/// `dir/stderr` (for failure messages). The caller owns (and kills) it.
pub fn spawn_daemon(bin: &Path, config: &Path, dir: &Path) -> std::process::Child {
    Command::new(bin)
        .arg(config)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr")).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e} (scripts/test builds it)", bin.display()))
}

/// Wait (20 s at most) until 127.0.0.1:`port` accepts connections.
pub fn wait_listening(what: &str, port: u16) {
    wait_for(what, Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
}

/// A child's output once it exits, or None after `limit`, when it is killed:
/// a stuck helper program must not hang the test that waits for it.
pub fn output_within(child: std::process::Child, limit: Duration) -> Option<std::process::Output> {
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match rx.recv_timeout(limit) {
        Ok(out) => out.ok(),
        Err(_) => {
            // SAFETY: killing our own child by PID.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            None
        }
    }
}

/// Folders removed when the test process exits (process-wide fixtures that
/// live as long as the process, such as the test PKI).
static AT_EXIT: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

extern "C" fn remove_at_exit_now() {
    // No panic may cross into libc: errors are ignored, a poisoned lock too.
    let _ = std::panic::catch_unwind(|| {
        if let Ok(dirs) = AT_EXIT.lock() {
            for d in dirs.iter() {
                let _ = std::fs::remove_dir_all(d);
            }
        }
    });
}

/// Remove `dir` and its contents when the test process exits.
pub fn remove_at_exit(dir: &Path) {
    static REGISTERED: std::sync::Once = std::sync::Once::new();
    REGISTERED.call_once(|| {
        // SAFETY: registers a plain function without arguments; it runs
        // once at exit() and catches its own panics.
        unsafe { libc::atexit(remove_at_exit_now) };
    });
    AT_EXIT.lock().unwrap().push(dir.to_path_buf());
}
