//! Sessions (random cookie token → role), CSRF tokens and the login rate
//! limit, all in memory: a restart logs everyone out, which is the safe
//! direction. Nothing here knows a password.
use crate::db::Caps;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const COOKIE: &str = "else_session";
/// The pre-login cookie whose value the login form repeats (login CSRF).
pub const LOGIN_COOKIE: &str = "else_login";

#[derive(Clone, Debug)]
pub struct Session {
    pub role: String,
    pub csrf: String,
    pub caps: Caps,
    last_seen: Instant,
}

pub struct Sessions {
    idle: Duration,
    map: Mutex<HashMap<String, Session>>,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

/// Failed logins allowed in [`FAIL_WINDOW`] before further attempts are
/// refused without asking PostgreSQL: per user name from one address, per
/// user name from anywhere (slows spread-out guessing), and per address (one
/// office behind one NAT still works when one person mistypes).
pub const MAX_FAILURES: usize = 5;
pub const MAX_PER_USER: usize = 10;
pub const MAX_PER_ADDRESS: usize = 30;
pub const FAIL_WINDOW: Duration = Duration::from_secs(300);

/// The counters a login attempt of `user` from `ip` is held against.
pub fn limits(ip: &str, user: &str) -> [(String, usize); 3] {
    [
        (format!("{ip} {user}"), MAX_FAILURES),
        (format!("user {user}"), MAX_PER_USER),
        (format!("ip {ip}"), MAX_PER_ADDRESS),
    ]
}

/// 32 random bytes, hex.
pub fn token() -> String {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("the system's random source");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Equal strings, compared in time independent of where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Sessions {
    pub fn new(idle: Duration) -> Sessions {
        Sessions {
            idle,
            map: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// A new session for `role`: returns its cookie token.
    pub fn create(&self, role: &str, caps: Caps) -> String {
        let t = token();
        let mut m = self.map.lock().unwrap();
        let now = Instant::now();
        m.retain(|_, s| now.duration_since(s.last_seen) < self.idle);
        m.insert(
            t.clone(),
            Session {
                role: role.to_owned(),
                csrf: token(),
                caps,
                last_seen: now,
            },
        );
        t
    }

    /// The live session of a cookie token (and it counts as activity).
    pub fn get(&self, t: &str) -> Option<Session> {
        let mut m = self.map.lock().unwrap();
        let now = Instant::now();
        match m.get_mut(t) {
            Some(s) if now.duration_since(s.last_seen) < self.idle => {
                s.last_seen = now;
                Some(s.clone())
            }
            Some(_) => {
                m.remove(t);
                None
            }
            None => None,
        }
    }

    pub fn remove(&self, t: &str) {
        self.map.lock().unwrap().remove(t);
    }

    /// Seconds to wait when one of the counters is full; None when an
    /// attempt may go ahead.
    pub fn blocked(&self, keys: &[(String, usize)]) -> Option<u64> {
        let mut f = self.failures.lock().unwrap();
        let now = Instant::now();
        keys.iter()
            .filter_map(|(k, max)| {
                let q = f.get_mut(k)?;
                while q
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= FAIL_WINDOW)
                {
                    q.pop_front();
                }
                (q.len() >= *max)
                    .then(|| (FAIL_WINDOW - now.duration_since(*q.front().unwrap())).as_secs() + 1)
            })
            .max()
    }

    pub fn failed(&self, keys: &[(String, usize)]) {
        let mut f = self.failures.lock().unwrap();
        if f.len() > 100_000 {
            f.clear(); // bounded memory under a flood of names
        }
        for (k, max) in keys {
            let q = f.entry(k.clone()).or_default();
            q.push_back(Instant::now());
            if q.len() > *max {
                q.pop_front();
            }
        }
    }
}

/// The value of cookie `name` in a Cookie header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_compared_whole() {
        let (a, b) = (token(), token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(same(&a, &a.clone()));
        assert!(!same(&a, &b));
        assert!(!same(&a, &a[..63]));
    }

    #[test]
    fn sessions_expire_and_logins_are_limited() {
        let s = Sessions::new(Duration::from_millis(50));
        let t = s.create("alice", Caps::default());
        assert_eq!(s.get(&t).unwrap().role, "alice");
        std::thread::sleep(Duration::from_millis(80));
        assert!(s.get(&t).is_none(), "idle session expired");
        for _ in 0..MAX_FAILURES {
            assert!(s.blocked(&limits("1.2.3.4", "bob")).is_none());
            s.failed(&limits("1.2.3.4", "bob"));
        }
        let wait = s.blocked(&limits("1.2.3.4", "bob")).unwrap();
        assert!(wait > 0 && wait <= FAIL_WINDOW.as_secs() + 1);
        assert!(
            s.blocked(&limits("1.2.3.4", "carol")).is_none(),
            "others at the same address go on"
        );
        assert!(
            s.blocked(&limits("9.9.9.9", "bob")).is_none(),
            "bob elsewhere until his own limit"
        );
        for _ in MAX_FAILURES..MAX_PER_USER {
            s.failed(&limits("9.9.9.9", "bob"));
        }
        assert!(
            s.blocked(&limits("8.8.8.8", "bob")).is_some(),
            "then bob everywhere"
        );
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let h = "a=1; else_session=abc; else_session_x=2";
        assert_eq!(cookie(h, COOKIE), Some("abc"));
        assert_eq!(cookie(h, "else"), None);
    }
}
