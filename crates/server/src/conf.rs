//! Loading the configuration the way redis-server does: an optional
//! redis.conf-syntax file, then `--name value ...` arguments, which override
//! it. An unknown or malformed directive stops start-up with a message that
//! names it and where it was read.

use ferrocache_commands::config::{find_param, Config, ConfigError};
use std::fmt;

/// A configuration error, printed in Redis's "FATAL CONFIG FILE ERROR" form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfError {
    pub source: String,
    pub line_no: usize,
    pub line: String,
    pub reason: String,
}

impl fmt::Display for ConfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "\n*** FATAL CONFIG FILE ERROR (Ferrocache {}) ***",
            env!("CARGO_PKG_VERSION")
        )?;
        writeln!(
            f,
            "Reading the configuration file {}, at line {}",
            self.source, self.line_no
        )?;
        writeln!(f, ">>> '{}'", self.line)?;
        write!(f, "{}", self.reason)
    }
}

impl std::error::Error for ConfError {}

/// Applies redis.conf text to `config`. `source` names the text in errors.
pub fn apply_text(config: &Config, text: &str, source: &str) -> Result<(), ConfError> {
    // `save` lines accumulate; the first one replaces the default.
    let mut save_rules: Option<Vec<String>> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |reason: String| ConfError {
            source: source.to_string(),
            line_no: i + 1,
            line: line.to_string(),
            reason,
        };
        let words = ferrocache_protocol::split_args(line.as_bytes())
            .ok_or_else(|| err("Unbalanced quotes in configuration line".into()))?;
        let words: Vec<String> = words
            .into_iter()
            .map(|w| String::from_utf8_lossy(&w).into_owned())
            .collect();
        let Some((name, values)) = words.split_first() else {
            continue;
        };
        let name = name.to_ascii_lowercase();
        if name == "save" {
            let rules = save_rules.get_or_insert_with(Vec::new);
            if values.len() == 1 && values[0].is_empty() {
                rules.clear();
            } else {
                rules.push(values.join(" "));
            }
            let joined = rules.join(" ");
            config
                .set("save", &joined, true)
                .map_err(|e| err(reason(e)))?;
            continue;
        }
        if find_param(&name).is_none() {
            return Err(err("Bad directive or wrong number of arguments".into()));
        }
        if values.is_empty() {
            return Err(err("wrong number of arguments".into()));
        }
        config
            .set(&name, &values.join(" "), true)
            .map_err(|e| err(reason(e)))?;
    }
    Ok(())
}

fn reason(e: ConfigError) -> String {
    match e {
        ConfigError::Unknown => "Bad directive or wrong number of arguments".into(),
        ConfigError::Invalid(why) => why,
    }
}

/// Turns `--port 6380 --save "" --bind 127.0.0.1 ::1` into config lines,
/// as redis-server does: every `--name` starts a line and the words up to
/// the next `--name` are its arguments.
pub fn args_to_text(args: &[String]) -> Result<String, String> {
    let mut out = String::new();
    let mut current: Option<Vec<String>> = None;
    for a in args {
        if let Some(name) = a.strip_prefix("--") {
            if !name.is_empty() && !name.starts_with('-') {
                if let Some(line) = current.take() {
                    out.push_str(&line.join(" "));
                    out.push('\n');
                }
                current = Some(vec![name.to_string()]);
                continue;
            }
        }
        match current.as_mut() {
            Some(line) => line.push(quote(a)),
            None => return Err(format!("Invalid argument '{a}': options start with --")),
        }
    }
    if let Some(line) = current {
        out.push_str(&line.join(" "));
        out.push('\n');
    }
    Ok(out)
}

fn quote(word: &str) -> String {
    let mut q = String::from("\"");
    for c in word.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            '\r' => q.push_str("\\r"),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_and_flags() {
        let c = Config::new();
        apply_text(
            &c,
            "# comment\nport 7000\nsave 900 1\nsave 300 10\nmaxmemory 1mb\n",
            "test.conf",
        )
        .unwrap();
        assert_eq!(c.get("port").as_deref(), Some("7000"));
        assert_eq!(c.get("save").as_deref(), Some("900 1 300 10"));
        assert_eq!(c.get("maxmemory").as_deref(), Some("1048576"));
        let text =
            args_to_text(&["--port".into(), "7001".into(), "--save".into(), "".into()]).unwrap();
        apply_text(&c, &text, "(command line)").unwrap();
        assert_eq!(c.get("port").as_deref(), Some("7001"));
        assert_eq!(c.get("save").as_deref(), Some(""));
    }

    #[test]
    fn unknown_directive_names_the_line() {
        let c = Config::new();
        let e = apply_text(&c, "port 7000\nbogus 1\n", "x.conf").unwrap_err();
        assert_eq!(e.line_no, 2);
        assert_eq!(e.line, "bogus 1");
        assert!(e.to_string().contains("Bad directive"));
        let e = apply_text(&c, "maxmemory lots\n", "x.conf").unwrap_err();
        assert_eq!(e.reason, "argument must be a memory value");
    }
}
