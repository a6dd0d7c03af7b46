//! Log lines in Redis's format: `pid:role day month year time.ms level message`,
//! where the level mark is `.` debug, `-` verbose, `*` notice, `#` warning.

use parking_lot::Mutex;
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
#[repr(u8)]
pub enum Level {
    Debug = 0,
    Verbose = 1,
    Notice = 2,
    Warning = 3,
    Nothing = 4,
}

impl Level {
    pub fn parse(s: &str) -> Level {
        match s {
            "debug" => Level::Debug,
            "verbose" => Level::Verbose,
            "warning" => Level::Warning,
            "nothing" => Level::Nothing,
            _ => Level::Notice,
        }
    }

    fn mark(self) -> char {
        match self {
            Level::Debug => '.',
            Level::Verbose => '-',
            Level::Notice => '*',
            _ => '#',
        }
    }
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Notice as u8);
static FILE: OnceLock<Mutex<Option<std::fs::File>>> = OnceLock::new();

/// Sets the minimum level and, if `path` is not empty, the log file.
pub fn configure(level: Level, path: &str) -> std::io::Result<()> {
    LEVEL.store(level as u8, Ordering::Relaxed);
    if !path.is_empty() {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        *FILE.get_or_init(|| Mutex::new(None)).lock() = Some(f);
    }
    Ok(())
}

pub fn log(level: Level, role: char, msg: &str) {
    if (level as u8) < LEVEL.load(Ordering::Relaxed) {
        return;
    }
    let line = format!(
        "{}:{} {} {} {}\n",
        std::process::id(),
        role,
        timestamp(),
        level.mark(),
        msg
    );
    if let Some(f) = FILE
        .get()
        .and_then(|m| m.lock().as_mut().map(|f| f.write_all(line.as_bytes())))
    {
        let _ = f;
        return;
    }
    let _ = std::io::stdout().write_all(line.as_bytes());
}

/// `22 Nov 2026 04:20:15.123` in UTC.
fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let ms = now.subsec_millis();
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{:02} {} {} {:02}:{:02}:{:02}.{:03}",
        d,
        MONTHS[(m - 1) as usize],
        y,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z.rem_euclid(146097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[macro_export]
macro_rules! notice {
    ($($t:tt)*) => { $crate::log::log($crate::log::Level::Notice, 'M', &format!($($t)*)) };
}
#[macro_export]
macro_rules! warning {
    ($($t:tt)*) => { $crate::log::log($crate::log::Level::Warning, 'M', &format!($($t)*)) };
}
#[macro_export]
macro_rules! verbose {
    ($($t:tt)*) => { $crate::log::log($crate::log::Level::Verbose, 'M', &format!($($t)*)) };
}

#[cfg(test)]
mod tests {
    #[test]
    fn civil_dates() {
        assert_eq!(super::civil_from_days(0), (1970, 1, 1));
        assert_eq!(super::civil_from_days(20414), (2025, 11, 22));
    }
}
