//! Timestamps as input: year inference for RFC 3164 and offsets of RFC 3339/5424,
//! against fixed reference clocks.
use maillog_core::parse::{parse_header, Context, Time};

const DAY: i64 = 86_400_000_000;

/// Local micros of a wall-clock date (days from the civil algorithm, checked
/// against known epoch values below).
fn local(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64) -> i64 {
    let yy = if mo <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * DAY + ((h * 60 + mi) * 60 + s) * 1_000_000
}

fn ctx(y: i64, mo: i64, d: i64, h: i64, mi: i64) -> Context {
    Context {
        reference_local: local(y, mo, d, h, mi, 0),
    }
}

fn time(line: &str, c: &Context) -> Option<Time> {
    parse_header(line, c).time
}

#[test]
fn helper_matches_known_epochs() {
    assert_eq!(local(1970, 1, 1, 0, 0, 0), 0);
    assert_eq!(local(2026, 12, 1, 0, 0, 0), 1_796_083_200_000_000);
    assert_eq!(local(2000, 3, 1, 0, 0, 0), 951_868_800_000_000);
}

#[test]
fn december_line_read_just_after_new_year_is_last_year() {
    let c = ctx(2027, 1, 1, 0, 10);
    let t = time(
        "Dec 31 23:59:59 mx1 postfix/qmgr[1]: 3F1A2B4C5D: removed",
        &c,
    );
    assert_eq!(t, Some(Time::Local(local(2026, 12, 31, 23, 59, 59))));
}

#[test]
fn january_line_read_on_new_years_eve_is_next_year_within_window() {
    let c = ctx(2026, 12, 31, 12, 0);
    let t = time("Jan  1 00:00:01 mx1 postfix/qmgr[1]: x", &c);
    assert_eq!(t, Some(Time::Local(local(2027, 1, 1, 0, 0, 1))));
    // More than a month ahead is last year's line, not next year's.
    let t = time("Feb 15 00:00:01 mx1 postfix/qmgr[1]: x", &c);
    assert_eq!(t, Some(Time::Local(local(2026, 2, 15, 0, 0, 1))));
    // Early in the year, a January line is this year's.
    let c = ctx(2026, 1, 20, 0, 0);
    assert_eq!(
        time("Jan  1 00:00:01 h p: x", &c),
        Some(Time::Local(local(2026, 1, 1, 0, 0, 1)))
    );
}

#[test]
fn future_window_is_about_a_month() {
    let c = ctx(2026, 6, 1, 0, 0);
    // 30 days ahead: still this year.
    assert_eq!(
        time("Jul  1 00:00:00 h p: x", &c),
        Some(Time::Local(local(2026, 7, 1, 0, 0, 0)))
    );
    // 40 days ahead: previous year.
    assert_eq!(
        time("Jul 11 00:00:00 h p: x", &c),
        Some(Time::Local(local(2025, 7, 11, 0, 0, 0)))
    );
}

#[test]
fn leap_day_goes_to_a_leap_year() {
    let c = ctx(2027, 3, 10, 0, 0);
    assert_eq!(
        time("Feb 29 12:00:00 h p: x", &c),
        Some(Time::Local(local(2024, 2, 29, 12, 0, 0)))
    );
    let c = ctx(2028, 3, 10, 0, 0);
    assert_eq!(
        time("Feb 29 12:00:00 h p: x", &c),
        Some(Time::Local(local(2028, 2, 29, 12, 0, 0)))
    );
}

#[test]
fn invalid_rfc3164_dates_are_not_headers() {
    let c = ctx(2026, 6, 1, 0, 0);
    for l in [
        "Nov 31 10:00:00 h p: x",
        "Nov 28 24:00:00 h p: x",
        "Foo 28 10:00:00 h p: x",
        "Nov 28 10:0:00 h p: x",
    ] {
        let h = parse_header(l, &c);
        assert_eq!((h.time, h.message), (None, l), "{l}");
    }
}

#[test]
fn rfc3339_offsets() {
    let c = ctx(2000, 1, 1, 0, 0); // the reference plays no role for absolute times
    let base = local(2026, 11, 28, 10, 0, 1);
    let h = |off: &str| {
        time(
            &format!("2026-11-28T10:00:01{off} mx1 postfix/smtpd[1]: x"),
            &c,
        )
    };
    assert_eq!(h("Z"), Some(Time::Utc(base)));
    assert_eq!(h("+00:00"), Some(Time::Utc(base)));
    assert_eq!(h("+01:00"), Some(Time::Utc(base - 3_600_000_000)));
    assert_eq!(h("-05:30"), Some(Time::Utc(base + 19_800_000_000)));
    assert_eq!(
        h(".123456+01:00"),
        Some(Time::Utc(base + 123_456 - 3_600_000_000))
    );
    assert_eq!(h(".5Z"), Some(Time::Utc(base + 500_000)));
    assert_eq!(h(".123456789Z"), Some(Time::Utc(base + 123_456)));
    // Without an offset it is wall-clock time.
    assert_eq!(h(""), Some(Time::Local(base)));
    // Crossing midnight backwards into the previous day and year.
    let t = time("2027-01-01T00:30:00+01:00 h p: x", &c);
    assert_eq!(t, Some(Time::Utc(local(2026, 12, 31, 23, 30, 0))));
}

#[test]
fn rfc5424_times_and_nil() {
    let c = ctx(2000, 1, 1, 0, 0);
    let h = parse_header("<22>1 2021-01-28T10:00:01.000000+00:00 mail postfix/smtpd 13312 - - connect from a[192.0.2.1]", &c);
    assert_eq!(h.time, Some(Time::Utc(local(2021, 1, 28, 10, 0, 1))));
    assert_eq!(
        (h.host, h.program, h.pid, h.message),
        (
            Some("mail"),
            Some("postfix/smtpd"),
            Some(13312),
            "connect from a[192.0.2.1]"
        )
    );
    let h = parse_header("<22>1 - - - - - - msg", &c);
    assert_eq!(
        (h.time, h.host, h.program, h.message),
        (None, None, None, "msg")
    );
}

#[test]
fn pri_before_rfc3164() {
    let c = ctx(2026, 12, 1, 0, 0);
    let h = parse_header("<22>Nov 28 10:00:01 mx1 postfix/smtpd[7]: hello", &c);
    assert_eq!(h.time, Some(Time::Local(local(2026, 11, 28, 10, 0, 1))));
    assert_eq!(
        (h.host, h.program, h.pid, h.message),
        (Some("mx1"), Some("postfix/smtpd"), Some(7), "hello")
    );
}

#[test]
fn pri_before_rfc3339_and_rfc5424() {
    let c = ctx(2000, 1, 1, 0, 0);
    let base = local(2026, 11, 28, 10, 0, 1);
    let h = parse_header(
        "<22>2026-11-28T10:00:01.25+01:00 mx1 postfix/smtpd[7]: hello",
        &c,
    );
    assert_eq!(h.time, Some(Time::Utc(base + 250_000 - 3_600_000_000)));
    assert_eq!(
        (h.host, h.program, h.pid, h.message),
        (Some("mx1"), Some("postfix/smtpd"), Some(7), "hello")
    );
    let h = parse_header("<22>2026-11-28T10:00:01 mx1 postfix/smtpd[7]: hello", &c);
    assert_eq!(
        (h.time, h.host, h.message),
        (Some(Time::Local(base)), Some("mx1"), "hello")
    );
    // `<PRI>1 ` is RFC 5424, whose fields are space-separated.
    let h = parse_header(
        "<22>1 2026-11-28T10:00:01Z mx1 postfix/smtpd 7 - - hello",
        &c,
    );
    assert_eq!(
        (h.time, h.host, h.program, h.pid, h.message),
        (
            Some(Time::Utc(base)),
            Some("mx1"),
            Some("postfix/smtpd"),
            Some(7),
            "hello"
        )
    );
}

#[test]
fn rfc3164_single_digit_days() {
    let c = ctx(2026, 12, 1, 0, 0);
    let want = Some(Time::Local(local(2026, 11, 8, 10, 0, 1)));
    for l in [
        "Nov  8 10:00:01 mx1 postfix/smtpd[1]: x",
        "Nov 8 10:00:01 mx1 postfix/smtpd[1]: x",
        "Nov 08 10:00:01 mx1 postfix/smtpd[1]: x",
    ] {
        let h = parse_header(l, &c);
        assert_eq!(h.time, want, "{l}");
        assert_eq!(
            (h.host, h.program, h.message),
            (Some("mx1"), Some("postfix/smtpd"), "x"),
            "{l}"
        );
    }
}

#[test]
fn rfc3339_fractions_of_1_to_9_digits() {
    let c = ctx(2000, 1, 1, 0, 0);
    let base = local(2026, 11, 28, 10, 0, 1);
    let digits = "987654321";
    // Micros of the first n digits: 9 → 900000, 98 → 980000, ... 987654 → 987654.
    let want = [
        900_000, 980_000, 987_000, 987_600, 987_650, 987_654, 987_654, 987_654, 987_654,
    ];
    for (n, micros) in (1..=9).zip(want) {
        let frac = &digits[..n];
        for (zone, t) in [
            ("Z", Time::Utc(base + micros)),
            ("", Time::Local(base + micros)),
        ] {
            let l = format!("2026-11-28T10:00:01.{frac}{zone} mx1 postfix/smtpd[1]: x");
            assert_eq!(time(&l, &c), Some(t), "{l}");
        }
    }
    // Leading zeros count: .000001 is one microsecond, .05 fifty thousand.
    let h = |f: &str| time(&format!("2026-11-28T10:00:01.{f}Z h p: x"), &c);
    assert_eq!(h("000001"), Some(Time::Utc(base + 1)));
    assert_eq!(h("05"), Some(Time::Utc(base + 50_000)));
    assert_eq!(h("0000009"), Some(Time::Utc(base)));
}

#[test]
fn rfc3339_zones_and_case() {
    let c = ctx(2000, 1, 1, 0, 0);
    let base = local(2026, 11, 28, 10, 0, 1);
    let hour = 3_600_000_000;
    let h = |ts: &str| time(&format!("{ts} mx1 postfix/smtpd[1]: x"), &c);
    assert_eq!(h("2026-11-28T10:00:01Z"), Some(Time::Utc(base)));
    assert_eq!(h("2026-11-28t10:00:01z"), Some(Time::Utc(base)));
    assert_eq!(h("2026-11-28t10:00:01.5z"), Some(Time::Utc(base + 500_000)));
    assert_eq!(
        h("2026-11-28T10:00:01+02:00"),
        Some(Time::Utc(base - 2 * hour))
    );
    assert_eq!(
        h("2026-11-28T10:00:01-02:00"),
        Some(Time::Utc(base + 2 * hour))
    );
    assert_eq!(
        h("2026-11-28T10:00:01.000250-00:45"),
        Some(Time::Utc(base + 250 + 45 * 60_000_000))
    );
    assert_eq!(h("2026-11-28T10:00:01"), Some(Time::Local(base)));
    assert_eq!(
        h("2026-11-28T10:00:01.75"),
        Some(Time::Local(base + 750_000))
    );
    // ISO 8601 basic offsets (strftime `%z`): the timestamp ends right after them.
    assert_eq!(
        h("2026-11-28T10:00:01+0200"),
        Some(Time::Utc(base - 2 * hour))
    );
    assert_eq!(
        h("2026-11-28T10:00:01.5-0530"),
        Some(Time::Utc(base + 500_000 + 5 * hour + 30 * 60_000_000))
    );
}

#[test]
fn malformed_rfc3339_is_not_a_header() {
    let c = ctx(2000, 1, 1, 0, 0);
    for ts in [
        "2026-11-28T10:00:01.Z",     // RFC 3339: "." 1*DIGIT
        "2026-11-28T10:00:01.",      // idem, wall clock
        "2026-11-28T10:00:01+24:00", // offset hours 00-23
        "2026-11-28T10:00:01+01:60", // offset minutes 00-59
        "2026-11-28T10:00:01+1:00",
        "2026-11-28T10:00:01+01",
        "2026-11-28T10:00:01+01:0",
        "2026-11-28T10:00:01+010",
        "2026-11-28T10:00:01+01000",
        "2026-11-28X10:00:01Z",
    ] {
        let l = format!("{ts} mx1 postfix/smtpd[1]: x");
        let h = parse_header(&l, &c);
        assert_eq!((h.time, h.host, h.message), (None, None, l.as_str()), "{l}");
    }
}

/// `journalctl -o short-unix` and `-o short-iso` (offset without colon), as a
/// DBA exports Postfix's lines from a journald-only host.
#[test]
fn journald_exports() {
    let c = ctx(2026, 11, 29, 12, 0);
    let h = parse_header(
        "1764320401.123456 mx1 postfix/qmgr[77]: 8B22B43C3: removed",
        &c,
    );
    assert_eq!(h.time, Some(Time::Utc(1_764_320_401_123_456)));
    assert_eq!(
        (h.host, h.program, h.pid),
        (Some("mx1"), Some("postfix/qmgr"), Some(77))
    );
    let h = parse_header("1764320401 mx1 postfix/qmgr[77]: 8B22B43C3: removed", &c);
    assert_eq!(h.time, Some(Time::Utc(1_764_320_401_000_000)));
    let h = parse_header("2026-11-28T10:00:01+0100 mx1 postfix/qmgr[77]: x", &c);
    assert_eq!(h.time, Some(Time::Utc(local(2026, 11, 28, 9, 0, 1))));
    // Short numbers are not times: no header.
    assert_eq!(parse_header("12345 mx1 prog: x", &c).time, None);
    assert_eq!(parse_header("123456789012 mx1 prog: x", &c).time, None);
}

/// The year written before the time (`Nov 28 2026 10:00:01`, Cisco) or after
/// it (`Nov 28 10:00:01 2026`, rsyslog's `detect.YearAfterTimestamp` devices)
/// is taken as stated, not inferred; the host follows it.
#[test]
fn stated_years_before_or_after_the_time() {
    let c = ctx(2026, 11, 29, 12, 0);
    for line in [
        "Nov 28 2019 10:00:01 mx1 postfix/qmgr[7]: 8B22B43C3: removed",
        "Nov 28 10:00:01 2019 mx1 postfix/qmgr[7]: 8B22B43C3: removed",
    ] {
        let h = parse_header(line, &c);
        assert_eq!(
            h.time,
            Some(Time::Local(local(2019, 11, 28, 10, 0, 1))),
            "{line}"
        );
        assert_eq!(
            (h.host, h.program, h.pid),
            (Some("mx1"), Some("postfix/qmgr"), Some(7)),
            "{line}"
        );
    }
    // Feb 29 of a stated non-leap year is no date: no header.
    assert_eq!(parse_header("Feb 29 2019 10:00:01 mx1 p: x", &c).time, None);
    // A host that is not a year stays the host.
    let h = parse_header("Nov 28 10:00:01 12345 postfix/qmgr[7]: x", &c);
    assert_eq!(h.host, Some("12345"));
}
