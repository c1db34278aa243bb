//! `rsyslogd -N1` accepts every shipped config and rejects unknown or
//! malformed omelse parameters with an error naming them (and never
//! echoing the conninfo or password). Also loads omelse by bare name from a
//! module folder (`rsyslogd -M`), as after installation.
use else_tests::rsyslog::{omelse_so, shipped_conf, Setup};
use std::process::Output;

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn shipped_configs_validate() {
    let setup =
        Setup::new("host=127.0.0.1 port=5432 dbname=postgres user=postgres password=s3cr3t");
    for name in [
        "else-all-in-one.conf",
        "else-backend-relp.conf",
        "mailserver-forward-relp.conf",
    ] {
        let o = setup.check(&shipped_conf(name));
        assert!(o.status.success(), "{name} rejected:\n{}", text(&o));
    }
}

fn action_conf(params: &str) -> String {
    format!(
        "module(load=`echo $ELSE_OMELSE_SO`)\n\
         action(type=\"omelse\" conninfo=\"host=127.0.0.1 password=s3cr3t\" {params})\n"
    )
}

#[test]
fn bad_parameters_are_named() {
    let setup = Setup::new("");
    let cases = [
        ("tabel=\"x\"", "tabel"),
        ("statementtimeout=\"abc\"", "statementtimeout"),
        ("statementtimeout=\"-5\"", "statementtimeout"),
        ("connecttimeout=\"soon\"", "connecttimeout"),
        ("table=\"maillog.inbox; drop\"", "table"),
        ("table=\"a.b.c\"", "table"),
        ("template=\"nosuchtemplate\"", "nosuchtemplate"),
    ];
    for (i, (params, name)) in cases.iter().enumerate() {
        let conf = setup.write_conf(&format!("bad{i}.conf"), &action_conf(params));
        let o = setup.check(&conf);
        let out = text(&o);
        assert!(!o.status.success(), "accepted {params}:\n{out}");
        assert!(
            out.contains(name),
            "error for {params} does not name {name}:\n{out}"
        );
        assert!(!out.contains("s3cr3t"), "password leaked:\n{out}");
    }
    // Malformed conninfo: named, but its text (with the password) is withheld.
    let conf = setup.write_conf(
        "badconn.conf",
        "module(load=`echo $ELSE_OMELSE_SO`)\naction(type=\"omelse\" conninfo=\"host=x password=s3cr3t bogus\")\n",
    );
    let out = text(&setup.check(&conf));
    assert!(
        out.contains("'conninfo'") && !out.contains("s3cr3t"),
        "{out}"
    );
    // Missing conninfo.
    let conf = setup.write_conf(
        "noconn.conf",
        "module(load=`echo $ELSE_OMELSE_SO`)\naction(type=\"omelse\")\n",
    );
    let out = text(&setup.check(&conf));
    assert!(out.contains("conninfo"), "{out}");
    // And a good one passes.
    let conf = setup.write_conf(
        "good.conf",
        &action_conf("table=\"maillog.inbox\" statementtimeout=\"1000\""),
    );
    let o = setup.check(&conf);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn loads_by_name_from_module_folder() {
    let setup = Setup::new("host=127.0.0.1");
    // A module folder like rsyslog's, with omelse installed as omelse.so.
    let moddir = setup.dir.path().join("modules");
    std::fs::create_dir(&moddir).unwrap();
    for e in std::fs::read_dir("/usr/lib/x86_64-linux-gnu/rsyslog").unwrap() {
        let e = e.unwrap();
        if e.file_name() == "omelse.so" {
            continue; // an installed copy: the one under test replaces it
        }
        std::os::unix::fs::symlink(e.path(), moddir.join(e.file_name())).unwrap();
    }
    std::os::unix::fs::symlink(omelse_so(), moddir.join("omelse.so")).unwrap();
    let conf = setup.write_conf(
        "byname.conf",
        "module(load=\"omelse\")\naction(type=\"omelse\" conninfo=\"host=127.0.0.1\")\n",
    );
    let o = std::process::Command::new(else_tests::rsyslog::RSYSLOGD)
        .arg("-N1")
        .arg("-M")
        .arg(&moddir)
        .arg("-f")
        .arg(&conf)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
}
