//! Lua scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT.
//!
//! One Lua 5.1 interpreter (mlua, built from vendored sources) serves every
//! script, one at a time, as in Redis. A script runs holding the exec gate
//! exclusively (see [`crate::multi`]): no other command runs on any thread
//! until it returns, so a script is atomic. Its `redis.call`s go through the
//! ordinary dispatcher on a private session that starts in the caller's
//! database; replies are converted between RESP and Lua values by Redis's
//! rules in both directions.
//!
//! The sandbox: the base, table, string and math libraries plus `bit`,
//! without `loadfile`/`dofile`; the global table refuses new globals
//! ("Attempt to modify a readonly table") and reading an undefined global
//! is an error, as in Redis 7.0. KEYS and ARGV are set for each call.
//!
//! Errors carry Redis's suffix ` script: <sha>, on @user_script:<line>.`: a
//! message handler walks the Lua stack to the script's own frame to find the
//! line, whether the error came from `error()`, from the interpreter or
//! from a failed `redis.call`.
//!
//! A script that runs longer than `busy-reply-threshold` makes the server
//! answer other clients `-BUSY` (the dispatcher checks [`Scripting::busy`]),
//! and SCRIPT KILL stops it through an instruction-count hook, unless it has
//! already written.
//!
//! Not yet: the `cjson`, `cmsgpack` and `struct` libraries, script
//! replication to the journal (there is none yet), SCRIPT DEBUG.

use crate::context::{CmdResult, Ctx, Session, Shared};
use crate::errors;
use crate::table::{
    command, container, flags::*, keys_counted, resolve, Command, Group, Resolved, NO_KEYS,
};
use bytes::{Bytes, BytesMut};
use ferrocache_protocol::{frame, Encoder, Frame, Protocol};
use mlua::{Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table, Value, VmState};
use parking_lot::Mutex;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

pub static COMMANDS: &[Command] = &[
    command(
        "eval",
        -3,
        NOSCRIPT | SKIP_MONITOR | MAY_REPLICATE | STALE | MOVABLE_KEYS,
        keys_counted(2),
        Group::Scripting,
        "2.6.0",
        "Executes a server-side Lua script.",
        cmd_eval,
    ),
    command(
        "evalsha",
        -3,
        NOSCRIPT | SKIP_MONITOR | MAY_REPLICATE | STALE | MOVABLE_KEYS,
        keys_counted(2),
        Group::Scripting,
        "2.6.0",
        "Executes a server-side Lua script by SHA1 digest.",
        cmd_evalsha,
    ),
    command(
        "eval_ro",
        -3,
        NOSCRIPT | SKIP_MONITOR | STALE | READONLY | MOVABLE_KEYS,
        keys_counted(2),
        Group::Scripting,
        "7.0.0",
        "Executes a read-only server-side Lua script.",
        cmd_eval_ro,
    ),
    command(
        "evalsha_ro",
        -3,
        NOSCRIPT | SKIP_MONITOR | STALE | READONLY | MOVABLE_KEYS,
        keys_counted(2),
        Group::Scripting,
        "7.0.0",
        "Executes a read-only server-side Lua script by SHA1 digest.",
        cmd_evalsha_ro,
    ),
    container(
        "script",
        -2,
        Group::Scripting,
        "2.6.0",
        "A container for Lua scripts management commands.",
        SCRIPT_SUBCOMMANDS,
    ),
];

static SCRIPT_SUBCOMMANDS: &[Command] = &[
    command(
        "load",
        3,
        NOSCRIPT | STALE,
        NO_KEYS,
        Group::Scripting,
        "2.6.0",
        "Loads a server-side Lua script to the script cache.",
        cmd_script_load,
    ),
    command(
        "exists",
        -3,
        NOSCRIPT,
        NO_KEYS,
        Group::Scripting,
        "2.6.0",
        "Determines whether server-side Lua scripts exist in the script cache.",
        cmd_script_exists,
    ),
    command(
        "flush",
        -2,
        NOSCRIPT,
        NO_KEYS,
        Group::Scripting,
        "2.6.0",
        "Removes all server-side Lua scripts from the script cache.",
        cmd_script_flush,
    ),
    command(
        "kill",
        2,
        NOSCRIPT | ALLOW_BUSY,
        NO_KEYS,
        Group::Scripting,
        "2.6.0",
        "Terminates a server-side Lua script during execution.",
        cmd_script_kill,
    ),
    command(
        "help",
        2,
        LOADING | STALE,
        NO_KEYS,
        Group::Scripting,
        "5.0.0",
        "Returns helpful text about the different subcommands.",
        cmd_script_help,
    ),
];

/// Commands that take the exec gate exclusively themselves.
pub fn is_script_command(name: &str) -> bool {
    matches!(name, "eval" | "evalsha" | "eval_ro" | "evalsha_ro")
}

/// What other threads may read about the running script.
#[derive(Default)]
pub struct RunState {
    /// A script is past `busy-reply-threshold`: others get -BUSY.
    busy: AtomicBool,
    /// SCRIPT KILL asked the running script to stop.
    kill: AtomicBool,
    /// The running script has called a write command (it can't be killed).
    wrote: AtomicBool,
    running: AtomicBool,
    /// Milliseconds since `epoch` at which the running script started.
    started_ms: AtomicU64,
    threshold_ms: AtomicU64,
    epoch: std::sync::OnceLock<Instant>,
}

impl RunState {
    fn now_ms(&self) -> u64 {
        self.epoch.get_or_init(Instant::now).elapsed().as_millis() as u64
    }
}

/// The interpreter and the script cache.
struct Engine {
    lua: Lua,
    /// sha1 (lower-case hex) -> compiled script.
    scripts: HashMap<String, Function>,
    xpcall: Function,
    handler: Function,
}

#[derive(Default)]
pub struct Scripting {
    engine: Mutex<Option<Engine>>,
    pub run: Arc<RunState>,
}

impl Scripting {
    /// True while a script has run past `busy-reply-threshold`.
    #[inline]
    pub fn busy(&self) -> bool {
        self.run.busy.load(Ordering::Relaxed)
    }
}

/// `redis` library functions and the sandbox, written in Lua. `__fc_call`
/// is the Rust side of `redis.call`/`redis.pcall`; it returns error replies
/// as `{err=...}` tables, which `redis.call` raises.
const PRELUDE: &str = r#"
local rcall = __fc_call
__fc_call = nil
redis.pcall = function(...)
  local reply = rcall(...)
  if type(reply) == 'table' and reply.__fc_error then
    reply.__fc_error = nil
  end
  return reply
end
redis.error_reply = function(msg)
  if type(msg) ~= 'string' then
    error({err = 'ERR wrong number or type of arguments', __fc_plain = true})
  end
  if string.sub(msg, 1, 1) == '-' then msg = string.sub(msg, 2) end
  -- A message without a space has no code of its own.
  if not string.find(msg, ' ', 1, true) then msg = 'ERR ' .. msg end
  return {err = msg}
end
redis.status_reply = function(msg)
  if type(msg) ~= 'string' then
    error({err = 'ERR wrong number or type of arguments', __fc_plain = true})
  end
  return {ok = msg}
end
redis.LOG_DEBUG = 0
redis.LOG_VERBOSE = 1
redis.LOG_NOTICE = 2
redis.LOG_WARNING = 3
redis.REPL_NONE = 0
redis.REPL_AOF = 1
redis.REPL_SLAVE = 2
redis.REPL_REPLICA = 2
redis.REPL_ALL = 3
redis.set_repl = function(flags) end
redis.replicate_commands = function() return true end
redis.breakpoint = function() return false end
redis.debug = function() end
loadfile = nil
dofile = nil
"#;

fn new_engine(run: &Arc<RunState>) -> mlua::Result<Engine> {
    let lua = Lua::new_with(
        StdLib::TABLE | StdLib::STRING | StdLib::MATH,
        LuaOptions::default(),
    )?;
    let g = lua.globals();
    let redis = lua.create_table()?;
    redis.set(
        "sha1hex",
        lua.create_function(|_, s: mlua::LuaString| Ok(sha1_hex(&s.as_bytes())))?,
    )?;
    redis.set(
        "log",
        lua.create_function(|_, (level, _msg): (i64, MultiValue)| {
            if !(0..=3).contains(&level) {
                return Err(mlua::Error::runtime("Invalid debug level."));
            }
            Ok(())
        })?,
    )?;
    g.set("redis", redis)?;
    g.set("bit", bit_library(&lua)?)?;
    // Placeholder until a call installs the real one (see `run_script`).
    g.set(
        "__fc_call",
        lua.create_function(|lua, args: MultiValue| redis_call_proxy(lua, args))?,
    )?;
    lua.load(PRELUDE).set_name("=prelude").exec()?;
    // `redis.call` is a Rust function rather than Lua in the prelude: Lua
    // 5.1 drops the caller's frame on `return f(...)` only when `f` is a Lua
    // function, and the error suffix needs the script's line.
    let redis: Table = g.get("redis")?;
    redis.set(
        "call",
        lua.create_function(|lua, args: MultiValue| match redis_call_proxy(lua, args)? {
            Value::Table(t) if t.raw_get::<bool>("__fc_error").unwrap_or(false) => {
                let msg: String = t.raw_get("err")?;
                Err(mlua::Error::external(ReplyError(msg)))
            }
            other => Ok(other),
        })?,
    )?;
    g.set(
        "__fc_null",
        Value::LightUserData(mlua::LightUserData(std::ptr::null_mut())),
    )?;
    lua.load(CJSON).set_name("=cjson").exec()?;
    let cjson: Table = g.get("cjson")?;
    for name in ["encode", "decode"] {
        let f: Function = cjson.get(name)?;
        cjson.set(name, as_c_function(&lua, f)?)?;
    }
    // cmsgpack's float conversions, exact in Rust.
    g.set(
        "__fc_f32",
        lua.create_function(|lua, n: f64| {
            let f = n as f32;
            Ok(if f as f64 == n || n.is_nan() {
                Some(lua.create_string(f.to_be_bytes())?)
            } else {
                None
            })
        })?,
    )?;
    g.set(
        "__fc_f64",
        lua.create_function(|lua, n: f64| lua.create_string(n.to_be_bytes()))?,
    )?;
    g.set(
        "__fc_from_f32",
        lua.create_function(|_, s: mlua::LuaString| {
            let b = s.as_bytes();
            Ok(<[u8; 4]>::try_from(&b[..]).map_or(0.0, |a| f32::from_be_bytes(a) as f64))
        })?,
    )?;
    g.set(
        "__fc_from_f64",
        lua.create_function(|_, s: mlua::LuaString| {
            let b = s.as_bytes();
            Ok(<[u8; 8]>::try_from(&b[..]).map_or(0.0, f64::from_be_bytes))
        })?,
    )?;
    lua.load(CMSGPACK).set_name("=cmsgpack").exec()?;
    let cmsgpack: Table = g.get("cmsgpack")?;
    for name in ["pack", "unpack", "unpack_one", "unpack_limit"] {
        let f: Function = cmsgpack.get(name)?;
        cmsgpack.set(name, as_c_function(&lua, f)?)?;
    }
    // Errors raised in Rust reach Lua as userdata; a script's `pcall`
    // sees their message, as Redis 7.0 gives it for a failed `redis.call`.
    g.set(
        "__fc_unwrap",
        lua.create_function(|lua, v: Value| -> mlua::Result<Value> {
            Ok(match v {
                Value::Error(e) => Value::String(lua.create_string(error_text(&e))?),
                other => other,
            })
        })?,
    )?;
    lua.load(
        r#"
local raw_pcall, unwrap, select, unpack = pcall, __fc_unwrap, select, unpack
__fc_unwrap = nil
local function settle(ok, ...)
  if ok then return true, ... end
  return false, unwrap((...))
end
pcall = function(f, ...) return settle(raw_pcall(f, ...)) end
"#,
    )
    .set_name("=prelude")
    .exec()?;
    let xpcall: Function = g.get("xpcall")?;
    let handler = lua.create_function(error_handler)?;
    // `redis.setresp` is installed per run on the library table itself,
    // which scripts only see through a read-only proxy.
    let redis: Table = g.get("redis")?;
    lua.set_named_registry_value("fc_redis", redis)?;
    // The sandbox, as Redis 7.0 builds it: the libraries and the globals
    // table are read-only, and reading an unknown global is an error. Stock
    // Lua 5.1 has no read-only tables, so the libraries become proxies.
    // `error(msg, 2)` blames the script's line, as Redis's messages do.
    lua.load(
        r#"
local error, tostring, setmetatable, rawset = error, tostring, setmetatable, rawset
local function refuse() error("Attempt to modify a readonly table", 2) end
-- Redis 7.0 leaves these out of the base library.
print, getfenv, setfenv, newproxy = nil, nil, nil, nil
for _, name in ipairs({"redis", "string", "table", "math", "bit", "cjson", "cmsgpack"}) do
  local lib = _G[name]
  rawset(_G, name, setmetatable({}, {__index = lib, __newindex = refuse, __metatable = false}))
end
setmetatable(_G, {
  __index = function(_, k)
    error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
  end,
  __newindex = refuse,
  __metatable = false,
})
"#,
    )
    .set_name("=sandbox")
    .exec()?;
    let hook_state = run.clone();
    lua.set_hook(
        HookTriggers::new().every_nth_instruction(100_000),
        move |_, _| {
            let state = &hook_state;
            let elapsed = state
                .now_ms()
                .saturating_sub(state.started_ms.load(Ordering::Relaxed));
            if elapsed >= state.threshold_ms.load(Ordering::Relaxed) {
                state.busy.store(true, Ordering::Relaxed);
            }
            if state.kill.load(Ordering::Relaxed) {
                return Err(mlua::Error::runtime(SCRIPT_KILLED));
            }
            Ok(VmState::Continue)
        },
    )?;
    Ok(Engine {
        lua,
        scripts: HashMap::new(),
        xpcall,
        handler,
    })
}

/// Wraps a Lua library function in a Rust one. Lua 5.1 drops the caller's
/// frame on `return f(...)` only for Lua functions, so errors can still be
/// blamed on the script's line, as errors from Redis's C libraries are.
fn as_c_function(lua: &Lua, f: Function) -> mlua::Result<Function> {
    lua.create_function(move |lua, args: MultiValue| {
        f.call::<MultiValue>(args).map_err(|e| {
            let text = error_text(&e);
            let at = lua.inspect_stack(1, |d| {
                let short = d.source().short_src.map(|s| s.to_string());
                (short, d.current_line())
            });
            match at {
                Some((Some(src), Some(line))) => {
                    mlua::Error::runtime(format!("{src}:{line}: {text}"))
                }
                _ => mlua::Error::runtime(text),
            }
        })
    })
}

/// The `cmsgpack` library, in Lua (see the file's header).
const CMSGPACK: &str = include_str!("scripting/cmsgpack.lua");

/// The `cjson` library, in Lua (see the file's header).
const CJSON: &str = include_str!("scripting/cjson.lua");

const SCRIPT_KILLED: &str = "ERR Script killed by user with SCRIPT KILL...";

/// What the prelude's `redis.call` calls: forwards to the function the
/// running script installed in the registry (it borrows that script's
/// session, so it only lives as long as the script).
fn redis_call_proxy(lua: &Lua, args: MultiValue) -> mlua::Result<Value> {
    let f: Function = lua.named_registry_value("fc_call")?;
    f.call(args)
}

/// The `bit` library (LuaBitOp's functions on 32-bit integers).
fn bit_library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    fn tobit(n: f64) -> i32 {
        // LuaBitOp normalises through a double: modulo 2^32, two's complement.
        (n as i64 as u64 & 0xffff_ffff) as u32 as i32
    }
    t.set("tobit", lua.create_function(|_, n: f64| Ok(tobit(n)))?)?;
    t.set("bnot", lua.create_function(|_, n: f64| Ok(!tobit(n)))?)?;
    t.set(
        "band",
        lua.create_function(|_, v: mlua::Variadic<f64>| {
            Ok(v.iter().fold(-1i32, |a, &n| a & tobit(n)))
        })?,
    )?;
    t.set(
        "bor",
        lua.create_function(|_, v: mlua::Variadic<f64>| {
            Ok(v.iter().fold(0i32, |a, &n| a | tobit(n)))
        })?,
    )?;
    t.set(
        "bxor",
        lua.create_function(|_, v: mlua::Variadic<f64>| {
            Ok(v.iter().fold(0i32, |a, &n| a ^ tobit(n)))
        })?,
    )?;
    t.set(
        "lshift",
        lua.create_function(|_, (n, s): (f64, f64)| {
            Ok(((tobit(n) as u32) << (tobit(s) & 31)) as i32)
        })?,
    )?;
    t.set(
        "rshift",
        lua.create_function(|_, (n, s): (f64, f64)| {
            Ok(((tobit(n) as u32) >> (tobit(s) & 31)) as i32)
        })?,
    )?;
    t.set(
        "arshift",
        lua.create_function(|_, (n, s): (f64, f64)| Ok(tobit(n) >> (tobit(s) & 31)))?,
    )?;
    t.set(
        "tohex",
        lua.create_function(|_, (n, w): (f64, Option<f64>)| {
            let w = w.map(tobit).unwrap_or(8);
            let (upper, w) = if w < 0 { (true, -w) } else { (false, w) };
            let w = w.clamp(1, 8) as usize;
            let v = tobit(n) as u32 as u64;
            let s = if upper {
                format!("{v:08X}")
            } else {
                format!("{v:08x}")
            };
            Ok(s[8 - w..].to_string())
        })?,
    )?;
    Ok(t)
}

/// The message handler: turns any error into `{err=..., source=...,
/// line=...}`, with the line of the script's own frame.
fn error_handler(lua: &Lua, err: Value) -> mlua::Result<Value> {
    let table = match err {
        Value::Table(t) if t.raw_get::<Value>("err").is_ok_and(|v| !v.is_nil()) => t,
        other => {
            let msg = match other {
                Value::String(s) => format!("ERR {}", s.to_string_lossy()),
                Value::Integer(i) => format!("ERR {i}"),
                Value::Number(n) => format!("ERR {n}"),
                // Errors raised in Rust (the kill hook, argument checks)
                // carry their code already.
                Value::Error(e) => {
                    let text = error_text(&e);
                    if reply_error(&e).is_some() || text.starts_with("ERR ") {
                        text
                    } else {
                        format!("ERR {text}")
                    }
                }
                Value::Nil => "ERR nil".to_string(),
                _ => "ERR unknown error".to_string(),
            };
            let t = lua.create_table()?;
            t.raw_set("err", msg)?;
            t
        }
    };
    // Find the innermost frame of the user's script.
    for level in 1..64 {
        let Some((source, line)) = lua.inspect_stack(level, |d| {
            (d.source().source.map(|s| s.to_string()), d.current_line())
        }) else {
            break;
        };
        if source.as_deref() == Some("@user_script") {
            t_set_origin(&table, line)?;
            break;
        }
    }
    Ok(Value::Table(table))
}

fn t_set_origin(t: &Table, line: Option<usize>) -> mlua::Result<()> {
    t.raw_set("source", "@user_script")?;
    t.raw_set("line", line.map(|l| l as i64).unwrap_or(0))
}

/// An error reply from `redis.call`, raised as a Lua error: its text
/// already carries the reply's code.
#[derive(Debug)]
struct ReplyError(String);

impl std::fmt::Display for ReplyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ReplyError {}

fn reply_error(e: &mlua::Error) -> Option<&ReplyError> {
    match e {
        mlua::Error::CallbackError { cause, .. } => reply_error(cause),
        mlua::Error::ExternalError(inner) => inner.downcast_ref::<ReplyError>(),
        _ => None,
    }
}

/// The text of an error raised in Rust (hook, conversion), without mlua's
/// decorations.
fn error_text(e: &mlua::Error) -> String {
    if let Some(r) = reply_error(e) {
        return r.0.clone();
    }
    match e {
        // mlua appends a traceback to errors coming out of Lua calls.
        mlua::Error::RuntimeError(s) => match s.find("\nstack traceback:") {
            Some(at) => s[..at].to_string(),
            None => s.clone(),
        },
        mlua::Error::CallbackError { cause, .. } => error_text(cause),
        other => other.to_string(),
    }
}

fn sha1_hex(data: &[u8]) -> String {
    sha1_smol::Sha1::from(data).digest().to_string()
}

// ---------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------

fn cmd_eval(ctx: &mut Ctx) -> CmdResult {
    blocking_section(|| eval_generic(ctx, false, false))
}

fn cmd_evalsha(ctx: &mut Ctx) -> CmdResult {
    blocking_section(|| eval_generic(ctx, true, false))
}

fn cmd_eval_ro(ctx: &mut Ctx) -> CmdResult {
    blocking_section(|| eval_generic(ctx, false, true))
}

fn cmd_evalsha_ro(ctx: &mut Ctx) -> CmdResult {
    blocking_section(|| eval_generic(ctx, true, true))
}

/// Runs `f`, which may hold this worker thread for long (a script), after
/// telling a multi-threaded tokio runtime so: the worker's queued tasks move
/// to another thread, and the other connections (SCRIPT KILL, the ones to
/// answer BUSY) keep being served.
fn blocking_section<R>(f: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

fn eval_generic(ctx: &mut Ctx, by_sha: bool, read_only: bool) -> CmdResult {
    let numkeys = crate::args::parse_i64(ctx.arg(2))?;
    if numkeys < 0 {
        return Err(errors::NUMKEYS_NEGATIVE.into());
    }
    let rest = &ctx.args[3..];
    if numkeys as usize > rest.len() {
        return Err(errors::NUMKEYS_TOO_MANY.into());
    }
    let (keys, argv) = rest.split_at(numkeys as usize);
    let shared = ctx.shared;
    // Atomic against every other client (EXEC already holds the gate).
    // The gate comes before the engine's lock, in that order everywhere.
    let _gate = ctx
        .session
        .in_exec
        .is_none()
        .then(|| shared.gate.exclusive());
    // What the script changes is journaled as one MULTI/EXEC unit.
    let _section = shared.journal.open(true);
    let mut guard = shared.scripting.engine.lock();
    if guard.is_none() {
        *guard = Some(new_engine(&shared.scripting.run).map_err(|e| format!("ERR {e}"))?);
    }
    let Some(engine) = guard.as_mut() else {
        return Err(errors::NOSCRIPT.into());
    };
    let sha = if by_sha {
        let sha = String::from_utf8_lossy(ctx.arg(1)).to_ascii_lowercase();
        if !engine.scripts.contains_key(&sha) {
            return Err(errors::NOSCRIPT.into());
        }
        sha
    } else {
        compile(engine, ctx.arg(1))?
    };
    let Some(func) = engine.scripts.get(&sha).cloned() else {
        return Err(errors::NOSCRIPT.into());
    };
    let lua = &engine.lua;
    let set_args = |name: &str, items: &[Bytes]| -> mlua::Result<()> {
        let t = lua.create_table_with_capacity(items.len(), 0)?;
        for (i, a) in items.iter().enumerate() {
            t.raw_set(i + 1, lua.create_string(&a[..])?)?;
        }
        lua.globals().raw_set(name, t)
    };
    set_args("KEYS", keys).map_err(|e| format!("ERR {e}"))?;
    set_args("ARGV", argv).map_err(|e| format!("ERR {e}"))?;

    let mut session = Session::new(ctx.session.handle.clone(), true);
    session.db = ctx.session.db;
    session.in_exec = Some(ctx.now_ms);
    session.in_script = true;
    let call_state = RefCell::new(CallState { session, read_only });
    let run = &shared.scripting.run;
    run.started_ms.store(run.now_ms(), Ordering::Relaxed);
    run.threshold_ms.store(
        shared
            .config
            .get_i64("busy-reply-threshold")
            .unwrap_or(5000)
            .max(0) as u64,
        Ordering::Relaxed,
    );
    run.kill.store(false, Ordering::Relaxed);
    run.wrote.store(false, Ordering::Relaxed);
    run.running.store(true, Ordering::Relaxed);
    let outcome = lua.scope(|scope| {
        let call = scope
            .create_function(|lua, args: MultiValue| redis_call(lua, shared, &call_state, args))?;
        let setresp = scope.create_function(|_, v: i64| {
            let mut st = call_state.borrow_mut();
            st.session.proto = match v {
                2 => Protocol::Resp2,
                3 => Protocol::Resp3,
                _ => return Err(mlua::Error::runtime("ERR RESP version must be 2 or 3.")),
            };
            Ok(())
        })?;
        // `redis.call`/`pcall` reach the Rust side through an upvalue the
        // prelude captured; swap the function it points at.
        let redis: Table = lua.named_registry_value("fc_redis")?;
        redis.raw_set("setresp", setresp)?;
        lua.set_named_registry_value("fc_call", call)?;
        engine
            .xpcall
            .call::<MultiValue>((func.clone(), engine.handler.clone()))
    });
    run.running.store(false, Ordering::Relaxed);
    run.busy.store(false, Ordering::Relaxed);
    run.kill.store(false, Ordering::Relaxed);
    let _ = lua.unset_named_registry_value("fc_call");
    let mut results = outcome.map_err(|e| format!("ERR {}", error_text(&e)))?;
    let ok = matches!(results.pop_front(), Some(Value::Boolean(true)));
    let value = results.pop_front().unwrap_or(Value::Nil);
    let script_resp3 = call_state.borrow().session.proto == Protocol::Resp3;
    let mut enc = Encoder::new(ctx.out, ctx.session.proto);
    if ok {
        lua_to_resp(&value, &mut enc, script_resp3, 0);
        return Ok(());
    }
    // An error: `{err=..., source=..., line=...}` from the handler.
    let (msg, line, plain) = match &value {
        Value::Table(t) => (
            t.raw_get::<String>("err")
                .unwrap_or_else(|_| "ERR unknown error".into()),
            t.raw_get::<i64>("line").ok(),
            t.raw_get::<bool>("__fc_plain").unwrap_or(false),
        ),
        _ => ("ERR unknown error".to_string(), None, false),
    };
    drop(guard);
    match line {
        Some(line) if !plain => Err(format!("{msg} script: {sha}, on @user_script:{line}.").into()),
        _ => Err(msg.into()),
    }
}

struct CallState {
    session: Session,
    read_only: bool,
}

/// Compiles `body` unless cached; returns its sha1.
fn compile(engine: &mut Engine, body: &[u8]) -> Result<String, crate::context::CmdError> {
    let sha = sha1_hex(body);
    if engine.scripts.contains_key(&sha) {
        return Ok(sha);
    }
    let func = engine
        .lua
        .load(body)
        .set_name("@user_script")
        .into_function()
        .map_err(|e| {
            let text = match &e {
                mlua::Error::SyntaxError { message, .. } => message.clone(),
                other => other.to_string(),
            };
            format!("ERR Error compiling script (new function): {text}")
        })?;
    engine.scripts.insert(sha.clone(), func);
    Ok(sha)
}

/// `redis.call`/`redis.pcall`: runs one command on the script's session
/// and converts its reply. Error replies come back as
/// `{err=..., __fc_error=true}`.
fn redis_call(
    lua: &Lua,
    shared: &Shared,
    state: &RefCell<CallState>,
    args: MultiValue,
) -> mlua::Result<Value> {
    let fail = |msg: &str| -> mlua::Result<Value> {
        let t = lua.create_table()?;
        t.raw_set("err", msg)?;
        t.raw_set("__fc_error", true)?;
        Ok(Value::Table(t))
    };
    if args.is_empty() {
        return fail("ERR Please specify at least one argument for this redis lib call");
    }
    let mut argv = Vec::with_capacity(args.len());
    for a in args {
        match a {
            Value::String(s) => argv.push(Bytes::copy_from_slice(&s.as_bytes())),
            Value::Integer(i) => argv.push(Bytes::from(i.to_string())),
            Value::Number(n) => argv.push(Bytes::from(ferrocache_protocol::format_double(n))),
            _ => return fail("ERR Lua redis lib command arguments must be strings or integers"),
        }
    }
    let mut st = state.borrow_mut();
    let cmd = match resolve(&argv) {
        Resolved::Found { cmd, .. } => cmd,
        Resolved::Unknown(_) => return fail("ERR Unknown Redis command called from script"),
        Resolved::WrongArity(_) => {
            return fail("ERR Wrong number of args calling Redis command from script")
        }
    };
    if cmd.has(NOSCRIPT) {
        return fail("ERR This Redis command is not allowed from script");
    }
    if cmd.has(WRITE) {
        if st.read_only {
            return fail("ERR Write commands are not allowed from read-only scripts.");
        }
        shared.scripting.run.wrote.store(true, Ordering::Relaxed);
    }
    let mut out = BytesMut::new();
    crate::dispatch::run(shared, &mut st.session, &argv, &mut out);
    let resp3 = st.session.proto == Protocol::Resp3;
    drop(st);
    match frame::parse(&out) {
        Ok(Some((f, _))) => {
            if let Frame::Error(e) = &f {
                return fail(&String::from_utf8_lossy(e));
            }
            resp_to_lua(lua, &f, resp3, 0)
        }
        _ => fail("ERR reply could not be read"),
    }
}

/// Converts a command's reply to a Lua value, as Redis does for RESP2 (and
/// RESP3 after `redis.setresp(3)`).
fn resp_to_lua(lua: &Lua, f: &Frame, resp3: bool, depth: usize) -> mlua::Result<Value> {
    if depth > 64 {
        return Ok(Value::Nil);
    }
    let single = |k: &str, v: Value| -> mlua::Result<Value> {
        let t = lua.create_table()?;
        t.raw_set(k, v)?;
        Ok(Value::Table(t))
    };
    Ok(match f {
        Frame::Simple(s) => single("ok", Value::String(lua.create_string(s)?))?,
        Frame::Error(s) => single("err", Value::String(lua.create_string(s)?))?,
        Frame::Integer(i) => Value::Integer(*i),
        Frame::Bulk(b) => Value::String(lua.create_string(b)?),
        Frame::Null => {
            if resp3 {
                Value::Nil
            } else {
                Value::Boolean(false)
            }
        }
        Frame::Array(items) | Frame::Push(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, resp_to_lua(lua, item, resp3, depth + 1)?)?;
            }
            Value::Table(t)
        }
        Frame::Map(pairs) | Frame::Attribute(pairs) => {
            let t = lua.create_table()?;
            for (k, v) in pairs {
                t.raw_set(
                    resp_to_lua(lua, k, resp3, depth + 1)?,
                    resp_to_lua(lua, v, resp3, depth + 1)?,
                )?;
            }
            single("map", Value::Table(t))?
        }
        Frame::Set(items) => {
            let t = lua.create_table()?;
            for item in items {
                t.raw_set(resp_to_lua(lua, item, resp3, depth + 1)?, true)?;
            }
            single("set", Value::Table(t))?
        }
        Frame::Double(text) => {
            let n = std::str::from_utf8(text)
                .ok()
                .and_then(|s| s.parse::<f64>().ok())
                .unwrap_or(0.0);
            single("double", Value::Number(n))?
        }
        Frame::Boolean(b) => Value::Boolean(*b),
        Frame::BigNumber(s) => single("big_number", Value::String(lua.create_string(s)?))?,
        Frame::Verbatim(s) => {
            let t = lua.create_table()?;
            let (format, text) = if s.len() >= 4 && s[3] == b':' {
                (&s[..3], &s[4..])
            } else {
                (&b"txt"[..], &s[..])
            };
            t.raw_set("format", lua.create_string(format)?)?;
            t.raw_set("string", lua.create_string(text)?)?;
            single("verbatim_string", Value::Table(t))?
        }
    })
}

/// Writes a script's result as the reply, by Redis's Lua-to-RESP rules.
/// Booleans follow the script's protocol (`redis.setresp`): under RESP2 true
/// is 1 and false is null, under RESP3 they are booleans.
fn lua_to_resp(v: &Value, enc: &mut Encoder, resp3: bool, depth: usize) {
    if depth > 64 {
        enc.error("ERR reached lua stack limit");
        return;
    }
    match v {
        Value::Nil => enc.null(),
        Value::Boolean(b) if resp3 => enc.boolean(*b),
        Value::Boolean(true) => enc.int(1),
        Value::Boolean(false) => enc.null(),
        Value::Integer(i) => enc.int(*i),
        Value::Number(n) => enc.int(*n as i64),
        Value::String(s) => enc.bulk(&s.as_bytes()),
        Value::Table(t) => table_to_resp(t, enc, resp3, depth),
        _ => enc.null(),
    }
}

fn table_to_resp(t: &Table, enc: &mut Encoder, resp3: bool, depth: usize) {
    let field = |k: &str| t.raw_get::<Value>(k).unwrap_or(Value::Nil);
    if let Value::String(e) = field("err") {
        enc.error(&e.to_string_lossy());
        return;
    }
    if let Value::String(s) = field("ok") {
        enc.simple(&s.to_string_lossy());
        return;
    }
    match field("double") {
        Value::Number(n) => return enc.double(n),
        Value::Integer(i) => return enc.double(i as f64),
        _ => {}
    }
    if let Value::String(s) = field("big_number") {
        let digits = s.to_string_lossy();
        return enc.big_number(&digits);
    }
    if let Value::Table(m) = field("map") {
        let pairs: Vec<(Value, Value)> = m.pairs::<Value, Value>().filter_map(Result::ok).collect();
        enc.map(pairs.len());
        for (k, v) in &pairs {
            lua_to_resp(k, enc, resp3, depth + 1);
            lua_to_resp(v, enc, resp3, depth + 1);
        }
        return;
    }
    if let Value::Table(s) = field("set") {
        let items: Vec<Value> = s
            .pairs::<Value, Value>()
            .filter_map(Result::ok)
            .map(|(k, _)| k)
            .collect();
        enc.set(items.len());
        for k in &items {
            lua_to_resp(k, enc, resp3, depth + 1);
        }
        return;
    }
    // An array: elements 1, 2, ... up to the first nil.
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(v),
        }
    }
    enc.array(items.len());
    for v in &items {
        lua_to_resp(v, enc, resp3, depth + 1);
    }
}

fn cmd_script_load(ctx: &mut Ctx) -> CmdResult {
    let shared = ctx.shared;
    let mut guard = shared.scripting.engine.lock();
    if guard.is_none() {
        *guard = Some(new_engine(&shared.scripting.run).map_err(|e| format!("ERR {e}"))?);
    }
    let Some(engine) = guard.as_mut() else {
        return Err(errors::NOSCRIPT.into());
    };
    let sha = compile(engine, ctx.arg(2))?;
    drop(guard);
    ctx.reply().bulk(sha.as_bytes());
    Ok(())
}

fn cmd_script_exists(ctx: &mut Ctx) -> CmdResult {
    let found: Vec<bool> = {
        let guard = ctx.shared.scripting.engine.lock();
        ctx.args[2..]
            .iter()
            .map(|a| {
                let sha = String::from_utf8_lossy(a).to_ascii_lowercase();
                guard.as_ref().is_some_and(|e| e.scripts.contains_key(&sha))
            })
            .collect()
    };
    let mut r = ctx.reply();
    r.array(found.len());
    for f in found {
        r.int(f as i64);
    }
    Ok(())
}

fn cmd_script_flush(ctx: &mut Ctx) -> CmdResult {
    match ctx.args.get(2) {
        None => {}
        Some(a)
            if ctx.args.len() == 3
                && (a.eq_ignore_ascii_case(b"sync") || a.eq_ignore_ascii_case(b"async")) => {}
        Some(_) => return Err(errors::SCRIPT_FLUSH_OPTION.into()),
    }
    // A fresh interpreter: cached functions and anything scripts left in
    // the Lua state go.
    *ctx.shared.scripting.engine.lock() = None;
    ctx.ok()
}

fn cmd_script_kill(ctx: &mut Ctx) -> CmdResult {
    let run = &ctx.shared.scripting.run;
    if !run.running.load(Ordering::Relaxed) || !run.busy.load(Ordering::Relaxed) {
        return Err(errors::NOTBUSY.into());
    }
    if run.wrote.load(Ordering::Relaxed) {
        return Err(errors::UNKILLABLE.into());
    }
    run.kill.store(true, Ordering::Relaxed);
    ctx.ok()
}

const SCRIPT_HELP: &[&str] = &[
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Prints this help.",
];

fn cmd_script_help(ctx: &mut Ctx) -> CmdResult {
    let mut r = ctx.reply();
    r.array(SCRIPT_HELP.len());
    for line in SCRIPT_HELP {
        r.simple(line);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hook_sees_a_long_script() {
        let run = Arc::new(RunState::default());
        let engine = new_engine(&run).expect("engine");
        run.threshold_ms.store(50, Ordering::Relaxed);
        run.started_ms.store(run.now_ms(), Ordering::Relaxed);
        let flag = run.clone();
        let killer = std::thread::spawn(move || {
            let deadline = Instant::now() + std::time::Duration::from_secs(5);
            while !flag.busy.load(Ordering::Relaxed) && Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            flag.kill.store(true, Ordering::Relaxed);
        });
        let f = engine
            .lua
            .load("local i = 0 while true do i = i + 1 end")
            .into_function()
            .expect("compiles");
        let r = f.call::<()>(());
        killer.join().expect("killer");
        assert!(run.busy.load(Ordering::Relaxed), "busy was never set");
        let err = r.expect_err("killed");
        assert!(error_text(&err).contains("Script killed"), "{err}");
    }
}
