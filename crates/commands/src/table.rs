//! The command table: the one place that knows, for every command, its name,
//! arity, flags, key positions, group and handler.
//!
//! Dispatch (unknown command and arity errors), COMMAND INFO/DOCS/GETKEYS,
//! journaling (the `WRITE` flag) and ACL categories all read it. Each command
//! group module exports a `COMMANDS` slice; [`all_commands`] concatenates them.

use crate::context::{CmdResult, Ctx};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::OnceLock;

pub type Handler = fn(&mut Ctx<'_>) -> CmdResult;

/// Command flags, named as COMMAND INFO names them.
pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const SKIP_MONITOR: u32 = 1 << 9;
    pub const SKIP_SLOWLOG: u32 = 1 << 10;
    pub const FAST: u32 = 1 << 11;
    pub const NO_AUTH: u32 = 1 << 12;
    pub const MAY_REPLICATE: u32 = 1 << 13;
    pub const SENTINEL: u32 = 1 << 14;
    pub const NO_MULTI: u32 = 1 << 15;
    pub const MOVABLE_KEYS: u32 = 1 << 16;
    pub const ALLOW_BUSY: u32 = 1 << 17;

    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (MAY_REPLICATE, "may_replicate"),
        (SENTINEL, "sentinel"),
        (NO_MULTI, "no_multi"),
        (MOVABLE_KEYS, "movablekeys"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// Command groups, as COMMAND DOCS reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    Generic,
    String,
    List,
    Set,
    SortedSet,
    Hash,
    PubSub,
    Transactions,
    Connection,
    Server,
    Scripting,
    Bitmap,
}

impl Group {
    pub fn name(self) -> &'static str {
        match self {
            Group::Generic => "generic",
            Group::String => "string",
            Group::List => "list",
            Group::Set => "set",
            Group::SortedSet => "sorted-set",
            Group::Hash => "hash",
            Group::PubSub => "pubsub",
            Group::Transactions => "transactions",
            Group::Connection => "connection",
            Group::Server => "server",
            Group::Scripting => "scripting",
            Group::Bitmap => "bitmap",
        }
    }

    /// The ACL category that goes with the group.
    pub fn acl_category(self) -> &'static str {
        match self {
            Group::Generic => "@keyspace",
            Group::String => "@string",
            Group::List => "@list",
            Group::Set => "@set",
            Group::SortedSet => "@sortedset",
            Group::Hash => "@hash",
            Group::PubSub => "@pubsub",
            Group::Transactions => "@transaction",
            Group::Connection => "@connection",
            Group::Server => "@admin",
            Group::Scripting => "@scripting",
            Group::Bitmap => "@bitmap",
        }
    }
}

/// How to find the keys among a command's arguments (Redis's legacy
/// first/last/step triple). `last` may be negative, counting from the end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeySpec {
    pub first: i32,
    pub last: i32,
    pub step: i32,
    /// For commands with movable keys counted by an argument (LMPOP,
    /// ZUNIONSTORE ...): the position of that count; the keys follow it.
    /// Zero for the others. The legacy triple of such commands is (0,0,0).
    pub numkeys: i32,
    /// SORT: the argument after a STORE option is a key as well.
    pub store_option: bool,
}

pub const NO_KEYS: KeySpec = KeySpec {
    first: 0,
    last: 0,
    step: 0,
    numkeys: 0,
    store_option: false,
};

/// Keys at `first`, `first+step`, ... up to `last`.
pub const fn keys(first: i32, last: i32, step: i32) -> KeySpec {
    KeySpec {
        first,
        last,
        step,
        numkeys: 0,
        store_option: false,
    }
}

/// Keys counted by the argument at `numkeys_at`, starting right after it
/// (the command also carries the MOVABLE_KEYS flag).
pub const fn keys_counted(numkeys_at: i32) -> KeySpec {
    KeySpec {
        first: 0,
        last: 0,
        step: 0,
        numkeys: numkeys_at,
        store_option: false,
    }
}

/// SORT's keys: the source, and the destination of a STORE option (the
/// last one wins). LIMIT takes two arguments and BY and GET one, which are
/// skipped, so a pattern spelled `store` is not taken for the option.
pub const fn sort_store_keys() -> KeySpec {
    KeySpec {
        first: 1,
        last: 1,
        step: 1,
        numkeys: 0,
        store_option: true,
    }
}

/// A destination key at `dest` plus keys counted by the argument at
/// `numkeys_at` (ZUNIONSTORE and the like): the legacy triple names the
/// destination, as Redis's does.
pub const fn keys_dest_counted(dest: i32, numkeys_at: i32) -> KeySpec {
    KeySpec {
        first: dest,
        last: dest,
        step: 1,
        numkeys: numkeys_at,
        store_option: false,
    }
}

/// One entry of the table.
pub struct Command {
    /// Lower-case name; for a subcommand, the part after the `|`.
    pub name: &'static str,
    /// Exact argument count including the name, or its negation for "at
    /// least".
    pub arity: i32,
    pub flags: u32,
    pub keys: KeySpec,
    pub group: Group,
    /// One-line description for COMMAND DOCS.
    pub summary: &'static str,
    /// Redis version that introduced the command.
    pub since: &'static str,
    pub handler: Handler,
    /// For container commands (CONFIG, CLIENT, ...): their subcommands. The
    /// container's own handler is then never called.
    pub subcommands: &'static [Command],
}

impl Command {
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    pub fn is_write(&self) -> bool {
        self.has(flags::WRITE)
    }

    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i64;
        let arity = self.arity as i64;
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }

    /// Positions of the key arguments of a whole request, movable keys
    /// included. A count that is not a positive integer, or that runs past
    /// the arguments, gives no keys.
    pub fn key_positions_of(&self, args: &[Bytes]) -> Vec<usize> {
        if self.keys.store_option {
            let mut pos = self.key_positions(args.len());
            let mut store = None;
            let mut i = 2;
            while let Some(a) = args.get(i) {
                let skip = if a.eq_ignore_ascii_case(b"limit") {
                    2
                } else if a.eq_ignore_ascii_case(b"get") || a.eq_ignore_ascii_case(b"by") {
                    1
                } else if a.eq_ignore_ascii_case(b"store") {
                    if i + 1 < args.len() {
                        store = Some(i + 1);
                    }
                    1
                } else {
                    0
                };
                i += skip + 1;
            }
            pos.extend(store);
            return pos;
        }
        if self.keys.numkeys <= 0 {
            return self.key_positions(args.len());
        }
        let at = self.keys.numkeys as usize;
        let n = args
            .get(at)
            .and_then(|a| ferrocache_protocol::parse_i64(a))
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0);
        if n == 0 || n > args.len().saturating_sub(at + 1) {
            return Vec::new();
        }
        let mut out = self.key_positions(at.min(args.len()));
        out.extend(at + 1..at + 1 + n);
        out
    }

    /// Positions of the key arguments in `args` (which include the name).
    pub fn key_positions(&self, argc: usize) -> Vec<usize> {
        let spec = self.keys;
        if spec.first <= 0 || spec.step <= 0 {
            return Vec::new();
        }
        let last = if spec.last < 0 {
            argc as i64 + spec.last as i64
        } else {
            spec.last as i64
        };
        let mut out = Vec::new();
        let mut i = spec.first as i64;
        while i <= last && (i as usize) < argc {
            out.push(i as usize);
            i += spec.step as i64;
        }
        out
    }
}

/// Every command, in no particular order.
pub fn all_commands() -> &'static [&'static Command] {
    static ALL: OnceLock<Vec<&'static Command>> = OnceLock::new();
    ALL.get_or_init(|| {
        let groups: &[&'static [Command]] = &[
            crate::connection::COMMANDS,
            crate::server::COMMANDS,
            crate::string::COMMANDS,
            crate::list::COMMANDS,
            crate::generic::COMMANDS,
            crate::hash::COMMANDS,
            crate::set::COMMANDS,
            crate::zset::COMMANDS,
            crate::sort::COMMANDS,
            crate::multi::COMMANDS,
            crate::pubsub::COMMANDS,
            crate::scripting::COMMANDS,
            crate::client::COMMANDS,
            crate::slowlog::COMMANDS,
            crate::latency::COMMANDS,
            crate::memory::COMMANDS,
            crate::monitor::COMMANDS,
            crate::debug::COMMANDS,
            crate::persist::COMMANDS,
            crate::replication::COMMANDS,
        ];
        groups.iter().flat_map(|g| g.iter()).collect()
    })
}

/// Name to command. Looked up once per request, so it uses a fast fixed-seed
/// hasher: the keys are our own command names, not attacker-chosen.
type Index = HashMap<&'static str, &'static Command, foldhash::fast::FixedState>;

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| all_commands().iter().map(|c| (c.name, *c)).collect())
}

/// Looks a command up by name, case-insensitively, without allocating for
/// names of ordinary length.
pub fn lookup(name: &[u8]) -> Option<&'static Command> {
    let mut buf = [0u8; 32];
    if name.len() > buf.len() {
        return None;
    }
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    let name = std::str::from_utf8(lower).ok()?;
    index().get(name).copied()
}

/// Finds a subcommand of `container` by name, case-insensitively.
pub fn lookup_sub(container: &'static Command, name: &[u8]) -> Option<&'static Command> {
    container
        .subcommands
        .iter()
        .find(|c| c.name.as_bytes().eq_ignore_ascii_case(name))
}

/// The full name Redis uses in messages: `get`, or `config|get`.
pub fn full_name(cmd: &Command, parent: Option<&Command>) -> String {
    match parent {
        Some(p) => format!("{}|{}", p.name, cmd.name),
        None => cmd.name.to_string(),
    }
}

/// Resolves a request to the command that handles it: the command itself, or
/// for a container the subcommand named by the second argument.
pub enum Resolved {
    Found {
        cmd: &'static Command,
        parent: Option<&'static Command>,
    },
    Unknown(String),
    WrongArity(String),
}

pub fn resolve(args: &[Bytes]) -> Resolved {
    let Some(cmd) = args.first().and_then(|n| lookup(n)) else {
        let name = args.first().map(|b| b.as_ref()).unwrap_or(b"");
        return Resolved::Unknown(crate::errors::unknown_command(
            name,
            args.get(1..).unwrap_or(&[]),
        ));
    };
    if cmd.subcommands.is_empty() {
        if !cmd.arity_ok(args.len()) {
            return Resolved::WrongArity(crate::errors::wrong_arity(cmd.name));
        }
        return Resolved::Found { cmd, parent: None };
    }
    if args.len() < 2 {
        // A container that also works alone (COMMAND) declares arity -1.
        if cmd.arity_ok(args.len()) {
            return Resolved::Found { cmd, parent: None };
        }
        return Resolved::WrongArity(crate::errors::wrong_arity(cmd.name));
    }
    let Some(sub) = lookup_sub(cmd, &args[1]) else {
        return Resolved::Unknown(crate::errors::unknown_subcommand(&args[1], cmd.name));
    };
    if !sub.arity_ok(args.len()) {
        return Resolved::WrongArity(crate::errors::wrong_arity(&full_name(sub, Some(cmd))));
    }
    Resolved::Found {
        cmd: sub,
        parent: Some(cmd),
    }
}

/// Placeholder handler for container commands, whose subcommands do the work.
pub fn container_handler(_ctx: &mut Ctx<'_>) -> CmdResult {
    Ok(())
}

/// Builds a table entry for a plain command.
#[allow(clippy::too_many_arguments)]
pub const fn command(
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: KeySpec,
    group: Group,
    since: &'static str,
    summary: &'static str,
    handler: Handler,
) -> Command {
    Command {
        name,
        arity,
        flags,
        keys,
        group,
        summary,
        since,
        handler,
        subcommands: &[],
    }
}

/// Builds a table entry for a container command (CONFIG, CLIENT, ...).
pub const fn container(
    name: &'static str,
    arity: i32,
    group: Group,
    since: &'static str,
    summary: &'static str,
    subcommands: &'static [Command],
) -> Command {
    Command {
        name,
        arity,
        flags: 0,
        keys: NO_KEYS,
        group,
        summary,
        since,
        handler: container_handler,
        subcommands,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_lowercase_and_have_sane_metadata() {
        let mut seen = std::collections::HashSet::new();
        for c in all_commands() {
            assert!(seen.insert(c.name), "duplicate table entry {}", c.name);
            assert_eq!(c.name, c.name.to_ascii_lowercase());
            assert_ne!(c.arity, 0, "{} has arity 0", c.name);
            assert!(!c.summary.is_empty(), "{} has no summary", c.name);
            if c.is_write() {
                assert!(
                    !c.has(flags::READONLY),
                    "{} is both write and readonly",
                    c.name
                );
            }
            let mut subs = std::collections::HashSet::new();
            for s in c.subcommands {
                assert!(
                    subs.insert(s.name),
                    "duplicate subcommand {}|{}",
                    c.name,
                    s.name
                );
                assert!(
                    s.arity.abs() >= 2,
                    "{}|{} arity must count the subcommand",
                    c.name,
                    s.name
                );
            }
        }
    }

    /// Every `fn cmd_*` in the crate's sources is the handler of exactly one
    /// table entry (`cmd_<name>` or `cmd_<container>_<sub>`, dashes as
    /// underscores), every entry has such a function, and no two entries
    /// share a handler.
    #[test]
    fn every_handler_has_a_table_entry_and_back() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut defined = std::collections::BTreeSet::new();
        for f in std::fs::read_dir(&dir).unwrap() {
            let path = f.unwrap().path();
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (i, _) in text.match_indices("fn cmd_") {
                let name: String = text[i + 3..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                // Mentions in comments and in this test are not definitions.
                if name == "cmd_" || !text[i + 3 + name.len()..].starts_with('(') {
                    continue;
                }
                assert!(
                    defined.insert(name.clone()),
                    "{name} defined twice (second in {})",
                    path.display()
                );
            }
        }
        let mut expected = std::collections::BTreeSet::new();
        let mut handlers: Vec<(String, usize)> = Vec::new();
        for c in all_commands() {
            let base = c.name.replace('-', "_");
            if c.subcommands.is_empty() {
                expected.insert(format!("cmd_{base}"));
                handlers.push((c.name.to_string(), c.handler as usize));
            } else {
                // (Function addresses are compared only without
                // optimisation; see the check at the end.)
                if cfg!(debug_assertions) {
                    assert_eq!(c.handler as usize, container_handler as Handler as usize);
                }
                for s in c.subcommands {
                    expected.insert(format!("cmd_{base}_{}", s.name.replace('-', "_")));
                    handlers.push((full_name(s, Some(c)), s.handler as usize));
                }
            }
        }
        let missing: Vec<_> = expected.difference(&defined).collect();
        let orphans: Vec<_> = defined.difference(&expected).collect();
        assert!(
            missing.is_empty(),
            "table entries without a cmd_ fn: {missing:?}"
        );
        assert!(
            orphans.is_empty(),
            "cmd_ fns without a table entry: {orphans:?}"
        );
        // Two entries pointing at one function is a table typo. Only checked
        // without optimisation: an optimised build may merge functions whose
        // code is identical (distinct handlers then share an address) and
        // may give one function different addresses in different units.
        if cfg!(debug_assertions) {
            handlers.sort_by_key(|h| h.1);
            for w in handlers.windows(2) {
                assert_ne!(w[0].1, w[1].1, "{} and {} share a handler", w[0].0, w[1].0);
            }
        }
    }

    #[test]
    fn lookup_is_case_insensitive() {
        assert!(lookup(b"GeT").is_some());
        assert!(lookup(b"nosuchcommand").is_none());
        assert!(lookup(&[b'a'; 100]).is_none());
    }

    #[test]
    fn key_positions_follow_first_last_step() {
        let mset = lookup(b"mset").unwrap();
        assert_eq!(mset.key_positions(5), vec![1, 3]);
        let del = lookup(b"del").unwrap();
        assert_eq!(del.key_positions(4), vec![1, 2, 3]);
    }

    #[test]
    fn counted_keys_follow_numkeys() {
        let lmpop = lookup(b"lmpop").unwrap();
        let args = |v: &[&str]| -> Vec<Bytes> {
            v.iter()
                .map(|s| Bytes::copy_from_slice(s.as_bytes()))
                .collect()
        };
        assert_eq!(
            lmpop.key_positions_of(&args(&["lmpop", "2", "a", "b", "LEFT"])),
            vec![2, 3]
        );
        assert!(lmpop
            .key_positions_of(&args(&["lmpop", "9", "a", "LEFT"]))
            .is_empty());
        assert!(lmpop
            .key_positions_of(&args(&["lmpop", "x", "a", "LEFT"]))
            .is_empty());
        let lmove = lookup(b"lmove").unwrap();
        assert_eq!(
            lmove.key_positions_of(&args(&["lmove", "a", "b", "LEFT", "LEFT"])),
            vec![1, 2]
        );
    }
}
