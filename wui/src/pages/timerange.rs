//! Time ranges as a person picks them: presets ("last hour", "today",
//! "7 days"…) or two UTC times typed into the form.
use time::{Duration, OffsetDateTime, PrimitiveDateTime, Time};

pub const PRESETS: [(&str, &str); 6] = [
    ("1h", "Last hour"),
    ("24h", "Last 24 hours"),
    ("today", "Today (UTC)"),
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("custom", "From … to …"),
];

/// `since`/`until` for a preset, or for the custom fields
/// (`YYYY-MM-DDTHH:MM`, UTC, as `<input type="datetime-local">` sends).
/// An unknown preset or unreadable time is an error for the person.
pub fn resolve(
    range: &str,
    since: Option<&str>,
    until: Option<&str>,
    now: OffsetDateTime,
) -> Result<(Option<OffsetDateTime>, Option<OffsetDateTime>), String> {
    let ago = |d: Duration| Ok((Some(now - d), None));
    match range {
        "1h" => ago(Duration::hours(1)),
        "24h" => ago(Duration::hours(24)),
        "7d" => ago(Duration::days(7)),
        "30d" => ago(Duration::days(30)),
        "today" => Ok((Some(now.replace_time(Time::MIDNIGHT)), None)),
        "all" => Ok((None, None)),
        "custom" => Ok((parse(since)?, parse(until)?)),
        other => Err(format!("unknown time range {other:?}")),
    }
}

fn parse(v: Option<&str>) -> Result<Option<OffsetDateTime>, String> {
    let Some(v) = v.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let fmt_s = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    PrimitiveDateTime::parse(v, &fmt)
        .or_else(|_| PrimitiveDateTime::parse(v, &fmt_s))
        .map(|t| Some(t.assume_utc()))
        .map_err(|_| format!("{v:?} is not a time like 2026-11-29T08:30 (UTC)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_and_custom_times() {
        let now = time::macros::datetime!(2026-11-29 10:15:00 UTC);
        assert_eq!(
            resolve("1h", None, None, now).unwrap().0,
            Some(time::macros::datetime!(2026-11-29 09:15:00 UTC))
        );
        assert_eq!(
            resolve("today", None, None, now).unwrap().0,
            Some(time::macros::datetime!(2026-11-29 00:00:00 UTC))
        );
        assert_eq!(resolve("all", None, None, now).unwrap(), (None, None));
        let (s, u) = resolve("custom", Some("2026-11-01T08:30"), Some(""), now).unwrap();
        assert_eq!(s, Some(time::macros::datetime!(2026-11-01 08:30:00 UTC)));
        assert_eq!(u, None);
        assert!(resolve("custom", Some("yesterday"), None, now).is_err());
        assert!(resolve("1y", None, None, now).is_err());
    }
}
