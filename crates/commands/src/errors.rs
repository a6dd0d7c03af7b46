//! Every error text a command can send, byte-identical to Redis 7.0's.
//! Handlers name these constants or call the builders below; no error string
//! is spelled anywhere else.

pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const SYNTAX: &str = "ERR syntax error";
/// SORT met a weight that is not a number.
pub const SORT_SCORE_NOT_DOUBLE: &str = "ERR One or more scores can't be converted into double";
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
pub const INCR_FLOAT_NAN: &str = "ERR increment would produce NaN or Infinity";
pub const NO_SUCH_KEY: &str = "ERR no such key";
pub const DB_INDEX: &str = "ERR DB index is out of range";
pub const INVALID_DB_INDEX: &str = "ERR invalid DB index";
pub const SAME_OBJECT: &str = "ERR source and destination objects are the same";
pub const NOAUTH: &str = "NOAUTH Authentication required.";
pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
pub const AUTH_NO_PASSWORD: &str = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?";
pub const MAX_CLIENTS: &str = "ERR max number of clients reached";
pub const STRING_TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
pub const OFFSET_OUT_OF_RANGE: &str = "ERR offset is out of range";
pub const BIT_OFFSET: &str = "ERR bit offset is not an integer or out of range";
pub const BIT_VALUE: &str = "ERR bit is not an integer or out of range";
pub const TIMEOUT_NEGATIVE: &str = "ERR timeout is negative";
pub const TIMEOUT_NOT_FLOAT: &str = "ERR timeout is not a float or out of range";
pub const INDEX_OUT_OF_RANGE: &str = "ERR index out of range";
pub const INVALID_CURSOR: &str = "ERR invalid cursor";
pub const HELLO_NOAUTH: &str = "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time";
pub const NO_SHUTDOWN_IN_PROGRESS: &str = "ERR No shutdown in progress.";
pub const NO_SUCH_CLIENT: &str = "ERR No such client";
pub const INVALID_CLIENT_ID: &str = "ERR Invalid client ID";
pub const CLIENT_ID_NOT_POSITIVE: &str = "ERR client-id should be greater than 0";
pub const TIMEOUT_NOT_INTEGER: &str = "ERR timeout is not an integer or out of range";
pub const PAUSE_MODE: &str = "ERR CLIENT PAUSE mode must be WRITE or ALL";
pub const UNBLOCKED: &str = "UNBLOCKED client unblocked via CLIENT UNBLOCK";
pub const UNBLOCK_REASON: &str = "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR";
pub const SLOWLOG_COUNT: &str = "ERR count should be greater than or equal to -1";
pub const FUNCTION_FLUSH_MODE: &str = "ERR FUNCTION FLUSH only supports SYNC|ASYNC option";
pub const NO_CONFIG_FILE: &str = "ERR The server is running without a config file";
pub const CLIENT_NAME_CHARS: &str =
    "ERR Client names cannot contain spaces, newlines or special characters.";
pub const DEBUG_NOT_ALLOWED: &str = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";
pub const GETKEYS_INVALID_COMMAND: &str = "ERR Invalid command specified";
pub const GETKEYS_INVALID_ARGS: &str = "ERR Invalid number of arguments specified for command";
pub const GETKEYS_NO_KEYS: &str = "ERR The command has no key arguments";
pub const PROTO_NOT_INTEGER: &str = "ERR Protocol version is not an integer or out of range";
pub const NOPROTO: &str = "NOPROTO unsupported protocol version";

pub fn wrong_arity(fullname: &str) -> String {
    format!("ERR wrong number of arguments for '{fullname}' command")
}

/// `ERR unknown command 'foo', with args beginning with: 'a' 'b' `: each
/// argument is quoted and followed by a space, and the list stops once it
/// reaches 128 bytes.
pub fn unknown_command(name: &[u8], args: &[bytes::Bytes]) -> String {
    let mut listed = String::new();
    for a in args {
        if listed.len() >= 128 {
            break;
        }
        let room = 128 - listed.len();
        let text = String::from_utf8_lossy(&a[..a.len().min(room)]).into_owned();
        listed.push_str(&format!("'{text}' "));
    }
    format!(
        "ERR unknown command '{}', with args beginning with: {}",
        String::from_utf8_lossy(&name[..name.len().min(128)]),
        listed
    )
}

/// `ERR unknown subcommand 'x'. Try CONFIG HELP.`
pub fn unknown_subcommand(sub: &[u8], container: &str) -> String {
    format!(
        "ERR unknown subcommand '{}'. Try {} HELP.",
        String::from_utf8_lossy(&sub[..sub.len().min(128)]),
        container.to_ascii_uppercase()
    )
}

/// A known subcommand given the wrong arguments, where Redis checks them in
/// the handler: `ERR unknown subcommand or wrong number of arguments for
/// 'GET'. Try SLOWLOG HELP.` (the subcommand as the client typed it).
pub fn subcommand_syntax(sub: &[u8], container: &str) -> String {
    format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        String::from_utf8_lossy(&sub[..sub.len().min(128)]),
        container
    )
}

pub fn invalid_expire(cmd: &str) -> String {
    format!("ERR invalid expire time in '{cmd}' command")
}

// String and bitmap commands.
pub const DECR_OVERFLOW: &str = "ERR decrement would overflow";
pub const LCS_NOT_STRINGS: &str = "ERR The specified keys must contain string values";
pub const LCS_IDX_AND_LEN: &str =
    "ERR If you want both the length and indexes, please just use IDX.";
pub const LCS_TOO_BIG: &str =
    "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len";
pub const BITOP_NOT_ONE_KEY: &str = "ERR BITOP NOT must be called with a single source key.";
pub const BITPOS_BIT: &str = "ERR The bit argument must be 1 or 0.";
pub const BITFIELD_TYPE: &str = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";
pub const BITFIELD_OVERFLOW_TYPE: &str = "ERR Invalid OVERFLOW type specified";
pub const BITFIELD_RO_GET_ONLY: &str = "ERR BITFIELD_RO only supports the GET subcommand";

// Generic key commands (DEL, EXPIRE, SCAN, COPY, MOVE, SWAPDB, OBJECT ...).
pub const EXPIRE_NX_COMPAT: &str =
    "ERR NX and XX, GT or LT options at the same time are not compatible";
pub const EXPIRE_GT_LT: &str = "ERR GT and LT options at the same time are not compatible";
pub const INT_RANGE: &str =
    "ERR value is out of range, value must between -2147483648 and 2147483647";
pub const INVALID_FIRST_DB: &str = "ERR invalid first DB index";
pub const INVALID_SECOND_DB: &str = "ERR invalid second DB index";
pub const LFU_NOT_SELECTED: &str = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
pub const LFU_SELECTED: &str = "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";

/// `ERR Unsupported option foo` (EXPIRE family): the option as sent.
pub fn unsupported_option(opt: &[u8]) -> String {
    format!("ERR Unsupported option {}", String::from_utf8_lossy(opt))
}

/// `ERR Unknown client type 'x'` (CLIENT LIST/KILL TYPE).
pub fn unknown_client_type(arg: &[u8]) -> String {
    format!("ERR Unknown client type '{}'", String::from_utf8_lossy(arg))
}

/// `ERR No such user 'x'` (CLIENT KILL USER).
pub fn no_such_user(user: &str) -> String {
    format!("ERR No such user '{user}'")
}

/// `ERR No samples available for event 'x'` (LATENCY GRAPH).
pub fn no_latency_samples(event: &str) -> String {
    format!("ERR No samples available for event '{event}'")
}

/// CONFIG REWRITE could not write the file.
pub fn rewrite_failed(why: &str) -> String {
    format!("ERR Rewriting config file: {why}")
}

/// `ERR Unrecognized option 'x'` (CLIENT SETINFO).
pub fn unrecognized_option(arg: &[u8]) -> String {
    format!("ERR Unrecognized option '{}'", String::from_utf8_lossy(arg))
}

/// CLIENT SETINFO refuses values with spaces or special characters.
pub fn bad_lib_info(label: &str) -> String {
    format!("ERR {label} cannot contain spaces, newlines or special characters.")
}

/// CONFIG SET of a parameter that does not exist.
pub fn config_set_unknown(name: &str) -> String {
    format!("ERR Unknown option or number of arguments for CONFIG SET - '{name}'")
}

/// CONFIG SET with a value the parameter refuses.
pub fn config_set_failed(name: &str, why: &str) -> String {
    format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}")
}

/// `ERR Syntax error in HELLO option 'x'`.
pub fn hello_option(opt: &[u8]) -> String {
    format!(
        "ERR Syntax error in HELLO option '{}'",
        String::from_utf8_lossy(opt)
    )
}

// List commands.
pub const MUST_BE_POSITIVE: &str = "ERR value is out of range, must be positive";
pub const LPOS_RANK_ZERO: &str = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list";
pub const LPOS_COUNT: &str = "ERR COUNT can't be negative";
pub const LPOS_MAXLEN: &str = "ERR MAXLEN can't be negative";
pub const NUMKEYS_POSITIVE: &str = "ERR numkeys should be greater than 0";
pub const COUNT_POSITIVE: &str = "ERR count should be greater than 0";
// Hash commands.
pub const HASH_NOT_INTEGER: &str = "ERR hash value is not an integer";
pub const HASH_NOT_FLOAT: &str = "ERR hash value is not a float";
pub const NAN_OR_INFINITY: &str = "ERR value is NaN or Infinity";
pub const OUT_OF_RANGE: &str = "ERR value is out of range";
/// HRANDFIELD with a count of `LONG_MIN`.
pub const HRANDFIELD_RANGE: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";

// Sets.
pub const LIMIT_NEGATIVE: &str = "ERR LIMIT can't be negative";
pub const NUMKEYS_TOO_MANY: &str = "ERR Number of keys can't be greater than number of args";

// Sorted sets.
pub const ZADD_XX_NX: &str = "ERR XX and NX options at the same time are not compatible";
pub const ZADD_GT_LT_NX: &str = "ERR GT, LT, and/or NX options at the same time are not compatible";
pub const ZADD_INCR_PAIR: &str = "ERR INCR option supports a single increment-element pair";
pub const ZSCORE_NAN: &str = "ERR resulting score is not a number (NaN)";
pub const MIN_MAX_NOT_FLOAT: &str = "ERR min or max is not a float";
pub const MIN_MAX_NOT_LEX: &str = "ERR min or max not valid string range item";
pub const ZRANGE_LIMIT: &str =
    "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX";
pub const ZRANGE_BYLEX_WITHSCORES: &str =
    "ERR syntax error, WITHSCORES not supported in combination with BYLEX";
pub const WEIGHT_NOT_FLOAT: &str = "ERR weight value is not a float";

/// ZUNION, ZINTERSTORE ... with a key count below one.
pub fn at_least_one_key(cmd: &str) -> String {
    format!("ERR at least 1 input key is needed for '{cmd}' command")
}

// Transactions.
pub const MULTI_NESTED: &str = "ERR MULTI calls can not be nested";
pub const WATCH_INSIDE_MULTI: &str = "ERR WATCH inside MULTI is not allowed";
pub const EXEC_WITHOUT_MULTI: &str = "ERR EXEC without MULTI";
pub const DISCARD_WITHOUT_MULTI: &str = "ERR DISCARD without MULTI";
pub const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";
pub const NOT_IN_MULTI: &str = "ERR Command not allowed inside a transaction";
pub const MONITOR_IN_EXEC: &str = "ERR MONITOR isn't allowed for DENY BLOCKING client";

// Pub/Sub.
pub fn only_pubsub_allowed(cmd: &str) -> String {
    format!("ERR Can't execute '{cmd}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")
}

// Scripting.
pub const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";
pub const NUMKEYS_NEGATIVE: &str = "ERR Number of keys can't be negative";
pub const NOTBUSY: &str = "NOTBUSY No scripts in execution right now.";
pub const UNKILLABLE: &str = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.";
pub const BUSY: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
pub const SCRIPT_FLUSH_OPTION: &str = "ERR SCRIPT FLUSH only support SYNC|ASYNC option";

// Persistence.
pub const BGSAVE_IN_PROGRESS: &str = "ERR Background save already in progress";
pub const BGSAVE_ERROR: &str = "ERR Background saving error";
pub const BGSAVE_OTHER_CHILD: &str = "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.";
/// What SAVE answers when the save fails: the bare error code.
pub const ERR_BARE: &str = "ERR";
pub const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";
pub const SHUTDOWN_ERRORS: &str = "ERR Errors trying to SHUTDOWN. Check logs.";
pub const BUSYKEY: &str = "BUSYKEY Target key name already exists.";
pub const DUMP_PAYLOAD: &str = "ERR DUMP payload version or checksum are wrong";
pub const BAD_DATA_FORMAT: &str = "ERR Bad data format";
pub const RESTORE_BAD_TTL: &str = "ERR Invalid TTL value, must be >= 0";
pub const RESTORE_BAD_IDLETIME: &str = "ERR Invalid IDLETIME value, must be >= 0";
pub const RESTORE_BAD_FREQ: &str = "ERR Invalid FREQ value, must be >= 0 and <= 255";

pub const AOF_REWRITE_IN_PROGRESS: &str =
    "ERR Background append only file rewriting already in progress";

pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

pub const LOADING: &str = "LOADING Redis is loading the dataset in memory";
