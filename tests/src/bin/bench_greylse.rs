//! Load generator for policy servers (scripts/bench-greylse): CLIENTS
//! Postfix-like connections, each asking RCPT-stage requests one after the
//! other for SECONDS; prints decisions/s and latency percentiles.
//!
//! The request mix is the same for every server (fixed seed): triplets drawn
//! from 2,000 client networks × 5,000 senders × 20,000 recipients with a
//! skew towards a hot set (most mail comes from few sources), so a run sees
//! new triplets, early retries and known ones, as a mail gateway does.
//!
//! Usage: bench-greylse HOST:PORT [CLIENTS] [SECONDS] [RATE]
//! Without RATE every client asks as fast as it is answered (the server's
//! capacity; latency is then mostly queueing). With RATE (decisions/s in
//! all) each client paces its requests, as real smtpd processes do, and the
//! latency is what one request costs at that load.
use else_tests::greylse::request;
use else_tests::rng::Rng;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Skewed draws: 80 % from the first 5 % of `n` (most mail comes from few sources).
fn skewed(r: &mut Rng, n: u64) -> u64 {
    if r.chance(80) {
        r.below((n / 20).max(1))
    } else {
        r.below(n)
    }
}

/// The next request of the mix (the same attributes as the tests send).
fn next_request(r: &mut Rng) -> String {
    let net = skewed(r, 2000);
    let client = format!("10.{}.{}.{}", net / 250, net % 250, 1 + r.below(200));
    let sender = format!("user{}@sender{}.example", skewed(r, 5000), skewed(r, 500));
    let rcpt = format!("rcpt{}@dest{}.example", skewed(r, 20_000), r.below(20));
    request(&client, &sender, &rcpt)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let target = args
        .get(1)
        .cloned()
        .expect("usage: bench-greylse HOST:PORT [CLIENTS] [SECONDS]");
    let clients: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(50);
    let seconds: u64 = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(20);
    let rate: f64 = args.get(4).and_then(|a| a.parse().ok()).unwrap_or(0.0);
    // Each client's interval between request starts (zero: no pacing).
    let interval = if rate > 0.0 {
        Duration::from_secs_f64(clients as f64 / rate)
    } else {
        Duration::ZERO
    };
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|i| {
            let (target, stop) = (target.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15 ^ (i + 1));
                let s = TcpStream::connect(&target).expect("connect");
                s.set_nodelay(true).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
                let mut w = s.try_clone().unwrap();
                let mut r = BufReader::new(s);
                let mut lat = Vec::new();
                let mut actions = [0u64; 3]; // defer, accept, other
                                             // Spread the clients' first requests over one interval.
                let mut next = Instant::now() + interval.mul_f64(i as f64 / clients as f64);
                while !stop.load(Ordering::Relaxed) {
                    if !interval.is_zero() {
                        let now = Instant::now();
                        if next > now {
                            std::thread::sleep(next - now);
                        }
                        next += interval;
                    }
                    let req = next_request(&mut rng);
                    let t = Instant::now();
                    w.write_all(req.as_bytes()).unwrap();
                    let mut action = String::new();
                    loop {
                        let mut l = String::new();
                        if r.read_line(&mut l).unwrap() == 0 {
                            panic!("server closed the connection");
                        }
                        if l == "\n" {
                            break;
                        }
                        if let Some(a) = l.strip_prefix("action=") {
                            action = a.trim().to_owned();
                        }
                    }
                    lat.push(t.elapsed());
                    let a = action.to_ascii_uppercase();
                    actions[if a.starts_with("DEFER") || a.starts_with("4") {
                        0
                    } else if a.starts_with("DUNNO")
                        || a.starts_with("PREPEND")
                        || a.starts_with("OK")
                    {
                        1
                    } else {
                        2
                    }] += 1;
                }
                (lat, actions)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    let mut actions = [0u64; 3];
    for h in handles {
        let (l, a) = h.join().unwrap();
        all.extend(l);
        for k in 0..3 {
            actions[k] += a[k];
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort();
    let pct =
        |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)].as_secs_f64() * 1000.0;
    println!(
        "{} decisions in {elapsed:.1} s = {:.0}/s, p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms (deferred {}, accepted {}, other {})",
        all.len(),
        all.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99),
        all.last().unwrap().as_secs_f64() * 1000.0,
        actions[0],
        actions[1],
        actions[2]
    );
}
