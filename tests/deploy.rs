//! The container image and Kubernetes manifest pass flags to the binary;
//! this test starts the binary with exactly those flags (the bind address
//! swapped for loopback) so a typo there fails here rather than in a pod.

use crate::support::{free_port, Conn};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The JSON string array on the first line of `text` starting with `prefix`.
fn json_array(text: &str, prefix: &str) -> Vec<String> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix}"));
    let inner = line[line.find('[').expect("[") + 1..line.rfind(']').expect("]")].trim();
    if inner.is_empty() {
        return Vec::new();
    }
    inner
        .split(',')
        .map(|w| w.trim().trim_matches('"').to_string())
        .collect()
}

#[test]
fn image_and_manifest_flags_start_the_server() {
    let root = env!("CARGO_MANIFEST_DIR");
    let dockerfile = std::fs::read_to_string(format!("{root}/deploy/Dockerfile")).unwrap();
    let manifest = std::fs::read_to_string(format!("{root}/deploy/k8s/ferrocache.yaml")).unwrap();
    let entry = json_array(&dockerfile, "ENTRYPOINT");
    assert_eq!(entry[0], "ferrocache");
    let mut args: Vec<String> = entry[1..].to_vec();
    args.extend(json_array(&manifest, "args:"));
    let dir = std::env::temp_dir().join(format!("fc-deploy-{}", fastrand::u64(..)));
    std::fs::create_dir_all(&dir).unwrap();
    for pair in args.chunks_mut(2) {
        match pair[0].as_str() {
            "--bind" => pair[1] = "127.0.0.1".into(),
            "--dir" => pair[1] = dir.display().to_string(),
            _ => {}
        }
    }
    let port = free_port();
    args.extend(["--port".to_string(), port.to_string()]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrocache"))
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut conn = loop {
        if let Ok(c) = Conn::try_ready(port) {
            break c;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("server exited with {status} for flags {args:?}");
        }
        assert!(
            Instant::now() < deadline,
            "server did not start with {args:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(conn.cmd(&["PING"]), b"+PONG\r\n");
    let policy = conn.cmd(&["CONFIG", "GET", "maxmemory-policy"]);
    assert!(String::from_utf8_lossy(&policy).contains("allkeys-lru"));
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
