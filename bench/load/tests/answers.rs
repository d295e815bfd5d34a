//! `lictor-load answers`, which the side-by-side benchmarks' agreement check reads: every body is sent
//! once, in order, over one kept-alive connection, and every answer is printed on its own line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

/// Serves HTTP/1.1 on one connection, answering each POST with `{"seen": BODY, "n": N}`, until the
/// client closes; returns how many connections it took.
fn echo_server(listener: TcpListener) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let mut connections = 0;
        let mut n = 0;
        for stream in listener.incoming() {
            let stream = stream.unwrap();
            connections += 1;
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut writer = stream;
            loop {
                let mut length = None;
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap() == 0 {
                    break;
                }
                loop {
                    line.clear();
                    reader.read_line(&mut line).unwrap();
                    let header = line.trim_end();
                    if header.is_empty() {
                        break;
                    }
                    if let Some((name, value)) = header.split_once(':') {
                        if name.eq_ignore_ascii_case("content-length") {
                            length = Some(value.trim().parse::<usize>().unwrap());
                        }
                    }
                }
                let mut body = vec![0; length.expect("a content-length")];
                reader.read_exact(&mut body).unwrap();
                let seen: serde_json::Value = serde_json::from_slice(&body).unwrap();
                let answer = serde_json::json!({"seen": seen, "n": n}).to_string();
                n += 1;
                write!(
                    writer,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
                    answer.len()
                )
                .unwrap();
            }
            if n >= 3 {
                return connections;
            }
        }
        connections
    })
}

#[test]
fn answers_sends_each_body_once_in_order_and_prints_each_answer() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let server = echo_server(listener);
    let dir = tempfile_dir();
    let bodies = dir.join("bodies.jsonl");
    std::fs::write(&bodies, "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n").unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_lictor-load"))
        .args([
            "answers",
            "--url",
            &format!("http://{address}/check"),
            "--bodies",
        ])
        .arg(&bodies)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let expected: Vec<serde_json::Value> = (1..=3)
        .map(|a| serde_json::json!({"seen": {"a": a}, "n": a - 1}))
        .collect();
    assert_eq!(lines, expected);
    assert_eq!(server.join().unwrap(), 1, "one kept-alive connection");
    std::fs::remove_dir_all(dir).unwrap();
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("lictor-load-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
