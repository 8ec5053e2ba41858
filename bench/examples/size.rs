#![allow(clippy::unwrap_used)]
#[path = "../src/push/mesh.rs"]
mod mesh;
use std::time::Instant;
fn rss() -> u64 { let s = std::fs::read_to_string("/proc/self/status").unwrap(); s.lines().find(|l| l.starts_with("VmRSS")).unwrap().split_whitespace().nth(1).unwrap().parse().unwrap() }
fn main() {
    let shape = mesh::Shape { services: 1000, endpoints: 2000, namespaces: 20 };
    let out = mesh::outbound(&shape, 15000);
    let r0 = rss();
    let cfgs: Vec<_> = (0..100).map(|i| mesh::proxy_config(&shape, i, "v1", &out)).collect();
    let r1 = rss();
    println!("parsed per config: {} KiB", (r1 - r0) / 100);
    let t = Instant::now();
    let mut total = 0; let mut jsons = vec![];
    for c in &cfgs { let j = serde_json::to_vec(c).unwrap(); total += j.len(); jsons.push(j); }
    println!("serialize: {:?} per config, {} KiB each", t.elapsed() / 100, total / 100 / 1024);
    let t = Instant::now();
    for j in &jsons { let c: verimesh_model::ProxyConfig = serde_json::from_slice(j).unwrap(); c.validate().unwrap(); }
    println!("parse+validate: {:?} per config", t.elapsed() / 100);
    let t = Instant::now();
    for j in &jsons { let c: verimesh_model::ProxyConfig = serde_json::from_slice(j).unwrap(); std::hint::black_box(c); }
    println!("parse: {:?} per config", t.elapsed() / 100);
}
