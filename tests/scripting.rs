//! Lua scripting compared with real Redis: conversions both ways, errors
//! with their `script: <sha>, on @user_script:<line>.` suffix, the sandbox,
//! the script cache, read-only scripts, and the lock and rate limiter
//! scripts client libraries use.

use crate::support::{show, Conn, Pair};
use std::time::{Duration, Instant};

fn eval(p: &mut Pair, script: &str, keys: &[&str], args: &[&str]) {
    let numkeys = keys.len().to_string();
    let mut cmd = vec!["EVAL", script, &numkeys];
    cmd.extend_from_slice(keys);
    cmd.extend_from_slice(args);
    p.check(&cmd);
}

#[test]
fn conversions_and_errors_match_redis() {
    let mut p = Pair::new();
    for script in [
        "return 1",
        "return 1.9",
        "return -3.7",
        "return 'x'",
        "return {1,2,{3,'a'},nil,5}",
        "return true",
        "return false",
        "return nil",
        "return {ok='fine'}",
        "return {err='bad thing'}",
        "return {err='-MYERR bad'}",
        "return redis.error_reply('oops')",
        "return redis.error_reply('MY oops')",
        "return redis.status_reply('GOOD')",
        "return redis.call('set','k','v')",
        "return redis.call('get','k')",
        "return redis.call('get','nokey')",
        "return redis.call('lpush','k','x')",
        "return redis.pcall('lpush','k','x')",
        "return type(redis.pcall('lpush','k','x'))",
        "return redis.pcall('lpush','k','x')['err']",
        "return redis.call('nosuch')",
        "return redis.call('get')",
        "return redis.pcall('nosuch')['err']",
        "return redis.call()",
        "return redis.call('get', {})",
        "return redis.call('set', 'n', 3.5)",
        "return redis.call('get', 'n')",
        "return redis.call('set', 'n', 12)",
        "return x",
        "x = 5",
        "return +",
        "error('boom')",
        "error({err='TBL boom'})",
        "local a = 1\nlocal b = 2\nerror('on line three')",
        "local a = 1\nreturn redis.call('lpush', 'k', 'x')",
        "return redis.sha1hex('')",
        "return redis.sha1hex('abc')",
        "return redis.call('eval','return 1','0')",
        "return redis.call('multi')",
        "return {1,'2',3.99,{}}",
        "redis.setresp(3); return redis.call('hgetall','nohash')",
        "return {double=3.5}",
        "redis.setresp(4)",
        "return redis.call('ping')",
        "return redis.call('ping')['ok']",
        "return bit.band(7,3)",
        "return {bit.bor(1,2,4), bit.bxor(5,1), bit.bnot(0), bit.lshift(1,4), bit.rshift(-1,28), bit.arshift(-16,2), bit.tohex(255), bit.tohex(-1,-4)}",
        "return os.time()",
        "return loadstring('return 1')()",
        "return loadfile",
        "return redis.call('incrbyfloat','f','1.5')",
        "local t = {}; t[1]='a'; t[3]='c'; return t",
        "return redis.REPL_ALL",
        "return redis.log(redis.LOG_WARNING, 'hi')",
        "return _G.x",
        "return string.format('%d', 3)",
        "return redis.call('hello','3')",
        "return redis.call('select','1')",
        "return redis.call('hset','h','a','1','b','2')",
        "return redis.call('hgetall','h')",
        "return redis.call('rpush','l','a','b')",
        "return redis.call('lrange','l',0,-1)",
        "return redis.call('lpop','nolist')",
        "return redis.call('mget','k','nokey','l')",
        "return redis.call('incr','counter')",
        "return {redis.call('exists','k'), redis.call('type','l')}",
        "return table.concat({'a','b'}, '-')",
        "return math.floor(7.9)",
        "return #KEYS + #ARGV",
        // A failed redis.call caught by pcall gives its message as a string.
        "local ok, e = pcall(redis.call, 'lpush', 'k', 'x'); return {ok and 1 or 0, e}",
        "local ok, e = pcall(redis.call, 'nosuch'); return type(e)",
        "local ok, e = pcall(function() error('inner') end); return e",
        // The sandbox: read-only libraries and globals.
        "redis.call = 1",
        "string.x = 1",
        "return type(os)",
        "return type(io)",
        "return type(require)",
        "return type(print)",
        "return ('abc'):upper()",
    ] {
        eval(&mut p, script, &[], &[]);
    }
    // KEYS and ARGV.
    eval(
        &mut p,
        "return {KEYS[1], ARGV[1], ARGV[2]}",
        &["k1"],
        &["a1", "a2"],
    );
    eval(
        &mut p,
        "return redis.call('set', KEYS[1], ARGV[1])",
        &["key"],
        &["val"],
    );
    // numkeys errors.
    p.check(&["EVAL", "return 1", "-1"]);
    p.check(&["EVAL", "return 1", "2", "a"]);
    p.check(&["EVAL", "return 1", "x"]);
    p.check(&["EVAL", "return 1"]);
}

/// The cjson library: encoding rules (sparse arrays, number format,
/// escapes), decoding, and its error messages.
#[test]
fn cjson_matches_redis() {
    let mut p = Pair::new();
    for script in [
        r#"return cjson.encode({1,2,'a/b',{x=1}, 1.5, 1e20, 0.1, true, cjson.null})"#,
        r#"return cjson.encode({})"#,
        r#"return cjson.encode('"\n\1\127')"#,
        r#"local t = cjson.decode('[1,2.5,"x",null,{"a":[true,false]}]') return {t[1], t[2], t[3], type(t[4]), tostring(t[5].a[1]), #t}"#,
        r#"return cjson.decode('[1,')"#,
        r#"return cjson.encode(function() end)"#,
        r#"return cjson.encode({[1]=1,[3]=3})"#,
        r#"return cjson.encode({[1]=1,[30]=3})"#,
        r#"return cjson.decode('{"a":1}').a"#,
        r#"return cjson.encode(3)"#,
        r#"return cjson.encode(1/0)"#,
        r#"return tostring(cjson.decode('1e400'))"#,
        r#"return cjson.decode('"\u00e9\n"')"#,
        r#"return cjson.decode('  {"a" : "b"} x')"#,
        r#"return cjson.encode({a={b={c={}}}})"#,
        r#"return cjson.encode(-0.0)"#,
        r#"return cjson.encode(123456789012345678)"#,
        r#"return cjson.encode({[1.5]=1})"#,
        r#"return cjson.decode('[]')[1]"#,
        r#"return type(cjson.decode('{}'))"#,
        r#"return cjson.decode('tru')"#,
        r#"return cjson.decode('"\ud83d\ude00"')"#,
        r#"return cjson.decode('"\x"')"#,
        r#"return cjson.decode('"abc')"#,
        r#"return cjson.decode('{"a" 1}')"#,
        r#"return cjson.decode('{1:1}')"#,
        r#"return cjson.decode('[1 2]')"#,
        r#"return cjson.decode()"#,
        r#"return cjson.encode(1, 2)"#,
        r#"local ok, e = pcall(cjson.decode, '['); return e"#,
        r#"cjson.encode = nil"#,
    ] {
        eval(&mut p, script, &[], &[]);
    }
}

#[test]
fn script_cache_and_read_only_scripts_match_redis() {
    let mut p = Pair::new();
    p.check_script(
        r#"
        EVALSHA 0000000000000000000000000000000000000000 0
        EVALSHA abc 0
        SCRIPT LOAD "return 7"
        EVALSHA 59b6ab2fbe0ee4b25733de0f62e6cda4899ef8e9 0
        EVALSHA 59B6AB2FBE0EE4B25733DE0F62E6CDA4899EF8E9 0
        SCRIPT EXISTS 59b6ab2fbe0ee4b25733de0f62e6cda4899ef8e9 0000
        EVAL "return 8" 0
        SCRIPT EXISTS e9e1b6b1e82a1dd34bcae2e2a3c1b7fc4e2ab3e4
        EVAL_RO "return redis.call('set','k','v')" 0
        SET k v
        EVAL_RO "return redis.call('get','k')" 0
        EVALSHA_RO 59b6ab2fbe0ee4b25733de0f62e6cda4899ef8e9 0
        SCRIPT FLUSH
        SCRIPT EXISTS 59b6ab2fbe0ee4b25733de0f62e6cda4899ef8e9
        EVALSHA 59b6ab2fbe0ee4b25733de0f62e6cda4899ef8e9 0
        SCRIPT FLUSH ASYNC
        SCRIPT FLUSH SYNC
        SCRIPT FLUSH bad
        SCRIPT KILL
        SCRIPT FOO
        SCRIPT HELP
        SCRIPT LOAD "return +"
        MULTI
        EVAL "return redis.call('incr', 'tx')" 0
        EVAL "return redis.call('incr', 'tx')" 0
        EXEC
        "#,
    );
}

#[test]
fn resp3_callers_get_resp3_conversions() {
    let mut p = Pair::new();
    p.both(&["HELLO", "3"]);
    for script in [
        "return true",
        "return false",
        "return nil",
        "return {double=1.5}",
        "redis.setresp(3); return redis.call('hgetall','nohash')",
        "redis.setresp(3); return redis.call('get','nokey')",
        "redis.setresp(3); return {map={a=1}}",
        "return {set={x=true}}",
    ] {
        eval(&mut p, script, &[], &[]);
    }
}

/// The lock and the fixed-window rate limiter that client libraries
/// implement with scripts.
#[test]
fn lock_and_rate_limiter_scripts_behave() {
    let mut p = Pair::new();
    let release = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
    let extend = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";
    p.check(&["SET", "lock:a", "token-1", "NX", "PX", "10000"]);
    p.check(&["SET", "lock:a", "token-2", "NX", "PX", "10000"]);
    eval(&mut p, release, &["lock:a"], &["token-2"]);
    eval(&mut p, extend, &["lock:a"], &["token-1", "20000"]);
    eval(&mut p, release, &["lock:a"], &["token-1"]);
    p.check(&["EXISTS", "lock:a"]);
    let limiter = "local n = redis.call('incr', KEYS[1])\n\
                   if n == 1 then redis.call('expire', KEYS[1], ARGV[2]) end\n\
                   if n > tonumber(ARGV[1]) then return 0 end\n\
                   return 1";
    for _ in 0..5 {
        eval(&mut p, limiter, &["rate:user1"], &["3", "60"]);
    }
    p.check(&["TTL", "rate:user1"]);
}

/// A long script makes other clients wait atomically, then get BUSY past
/// busy-reply-threshold; SCRIPT KILL stops it.
#[test]
fn busy_script_and_script_kill() {
    let fc = ferrocache_with(&[("busy-reply-threshold", "100")]);
    let port = fc.port();
    let runner = std::thread::spawn(move || {
        let mut c = Conn::connect(port);
        c.cmd(&["EVAL", "local i = 0 while true do i = i + 1 end", "0"])
    });
    let mut other = Conn::connect(port);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut reply = Vec::new();
    while Instant::now() < deadline {
        reply = other.cmd(&["GET", "x"]);
        if reply.starts_with(b"-BUSY") {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        show(&reply),
        show(b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n")
    );
    assert_eq!(other.cmd(&["SCRIPT", "KILL"]), b"+OK\r\n");
    let killed = runner.join().expect("runner");
    let text = show(&killed);
    assert!(
        text.starts_with("-ERR Script killed by user with SCRIPT KILL..."),
        "{text}"
    );
    assert_eq!(other.cmd(&["PING"]), b"+PONG\r\n");
    // A script that wrote can't be killed.
    let runner = std::thread::spawn(move || {
        let mut c = Conn::connect(port);
        c.cmd(&[
            "EVAL",
            // Runs for about 600 ms of wall time, however slow the machine.
            "redis.call('set','w','1') \
             local function now() local t = redis.call('time') return t[1] * 1000000 + t[2] end \
             local start = now() local i = 0 \
             while now() - start < 600000 do i = i + 1 end return 1",
            "0",
        ])
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        reply = other.cmd(&["SCRIPT", "KILL"]);
        if !reply.starts_with(b"-NOTBUSY") {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(show(&reply).starts_with("-UNKILLABLE"), "{}", show(&reply));
    let done = runner.join().expect("runner");
    assert_eq!(done, b":1\r\n");
}

fn ferrocache_with(settings: &[(&str, &str)]) -> ferrocache::ServerHandle {
    crate::support::ferrocache_with(settings)
}
