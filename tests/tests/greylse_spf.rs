//! GreyLSE's SPF checks against a real DNS server: Debian's dnsmasq, started
//! here on a loopback port, serving test zones with `v=spf1` records. Each
//! RFC 7208 result, include and redirect chains, the 10-lookup limit
//! (permerror), a DNS server that never answers (temperror → defer), IPv6,
//! HELO for the null sender, and a passed retry's `Received-SPF:` header.
use else_tests::greylse::{Greylse, PolicyClient};
use else_tests::pg::Cluster;
use else_tests::sys::{free_port, require, wait_for};
use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Dnsmasq(Child);

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// dnsmasq answering for `*.test` from `records` (name, TXT); `slow.test`
/// is forwarded to `silent`, a socket that never answers.
fn dnsmasq(port: u16, silent: u16, records: &[(&str, &str)]) -> Dnsmasq {
    require("/usr/sbin/dnsmasq", "dnsmasq-base");
    let mut cmd = Command::new("/usr/sbin/dnsmasq");
    cmd.args([
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--pid-file=",
        "--no-resolv",
        "--no-hosts",
        "--bind-interfaces",
        "--listen-address=127.0.0.1",
        &format!("--port={port}"),
        "--local=/test/",
        &format!("--server=/slow.test/127.0.0.1#{silent}"),
        "--user=root",
        "--host-record=mail.helo.test,192.0.2.25",
    ]);
    for (name, txt) in records {
        // On the command line dnsmasq keeps quotes as text: none here.
        cmd.arg(format!("--txt-record={name},{txt}"));
    }
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start dnsmasq");
    wait_for("dnsmasq to answer", Duration::from_secs(10), || {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        // A minimal query for pass.test TXT.
        let mut q = vec![0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in ["pass", "test"] {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.extend_from_slice(&[0, 0, 16, 0, 1]);
        s.send_to(&q, ("127.0.0.1", port)).is_ok() && s.recv(&mut [0u8; 512]).is_ok()
    });
    Dnsmasq(child)
}

#[test]
fn spf_results_with_a_real_dns_server() {
    let port = free_port();
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap(); // never answers
    let mut records = vec![
        ("pass.test", "v=spf1 ip4:192.0.2.0/24 -all".to_owned()),
        ("soft.test", "v=spf1 ip4:192.0.2.0/24 ~all".to_owned()),
        ("neutral.test", "v=spf1 ?all".to_owned()),
        ("include.test", "v=spf1 include:pass.test -all".to_owned()),
        ("redirect.test", "v=spf1 redirect=include.test".to_owned()),
        ("v6.test", "v=spf1 ip6:2001:db8::/32 -all".to_owned()),
        ("bad.test", "v=spf1 ip4:not-an-address -all".to_owned()),
        ("helo.test", "v=spf1 a:mail.helo.test -all".to_owned()),
    ];
    let many: Vec<String> = (1..=11).map(|i| format!("include:l{i}.test")).collect();
    records.push(("limit.test", format!("v=spf1 {} -all", many.join(" "))));
    let names: Vec<String> = (1..=11).map(|i| format!("l{i}.test")).collect();
    for n in &names {
        records.push((n.as_str(), "v=spf1 -all".to_owned()));
    }
    let recs: Vec<(&str, &str)> = records.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let _dns = dnsmasq(port, silent.local_addr().unwrap().port(), &recs);

    let cluster = Cluster::start();
    Greylse::create_role(&cluster);
    let g = Greylse::start(
        &cluster,
        &format!(
            "[greylist]\ndelay_s = 1\n[spf]\nnameservers = [\"127.0.0.1:{port}\"]\ndns_timeout_ms = 700\nreceiver = \"gw.test\"\n"
        ),
        None,
    );
    let mut c = PolicyClient::connect(g.port);
    let defer = "DEFER_IF_PERMIT 4.7.1 Greylisted";
    // (client, sender, expected answer prefix, expected spf= word)
    let cases = [
        ("192.0.2.1", "a@pass.test", defer, "pass"),
        (
            "198.51.100.1",
            "a@pass.test",
            "550 5.7.23 SPF fail for a@pass.test",
            "fail",
        ),
        ("198.51.100.1", "a@soft.test", defer, "softfail"),
        ("198.51.100.1", "a@neutral.test", defer, "neutral"),
        ("198.51.100.1", "a@nospf.test", defer, "none"),
        ("192.0.2.1", "a@include.test", defer, "pass"),
        ("198.51.100.1", "a@include.test", "550 5.7.23", "fail"),
        ("192.0.2.1", "a@redirect.test", defer, "pass"),
        ("198.51.100.1", "a@limit.test", defer, "permerror"),
        ("198.51.100.1", "a@bad.test", defer, "permerror"),
        ("2001:db8::25", "a@v6.test", defer, "pass"),
        ("2001:db9::25", "a@v6.test", "550 5.7.23", "fail"),
        (
            "198.51.100.1",
            "a@slow.test",
            "451 4.7.24 SPF temperror",
            "temperror",
        ),
    ];
    for (i, (client, sender, answer, spf)) in cases.iter().enumerate() {
        let a = c.ask(client, sender, &format!("r{i}@rcpt.example"));
        assert!(a.starts_with(answer), "{sender} from {client}: {a}");
        let lines = g.log_lines();
        assert!(
            lines.iter().any(|l| l.contains(&format!(" spf={spf} "))),
            "{sender} from {client}: spf={spf} expected in {lines:#?}"
        );
    }
    // The null sender is checked by its HELO name (helo_name=mx.example has
    // no record: none; the request helper's HELO is fixed, so ask by hand).
    let req = else_tests::greylse::request("192.0.2.25", "", "postmaster@rcpt.example")
        .replace("helo_name=mx.example", "helo_name=helo.test");
    c.send_raw(req.as_bytes());
    assert!(c.answer().unwrap().starts_with(defer));
    assert!(
        g.log_lines().iter().any(|l| l.contains(" spf=pass ")),
        "HELO identity"
    );

    // The passed retry carries the Received-SPF header.
    std::thread::sleep(Duration::from_millis(1100));
    let a = c.ask("192.0.2.1", "a@pass.test", "r0@rcpt.example");
    assert!(
        a.starts_with("PREPEND Received-SPF: Pass (gw.test: domain of a@pass.test designates 192.0.2.1 as permitted sender) client-ip=192.0.2.1;"),
        "{a}"
    );
    drop(silent);
}
