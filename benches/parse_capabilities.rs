//! Parse time of the real WMTS capabilities (2.1 MB, 543 layers), printed for BENCHMARKS.md and
//! compared by `benches/load.sh` with OWSLib parsing the same file in the same run.
//!   cargo bench --bench parse_capabilities [-- PATH]
use std::time::Instant;

fn main() {
    let path = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_else(|| {
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../shared/upstream/wmts/capabilities.xml"
            )
            .to_string()
        });
    let xml = std::fs::read_to_string(&path).expect("the capabilities file");
    let runs = 20;
    let mut best = f64::MAX;
    let mut layers = 0;
    for _ in 0..runs {
        let t = Instant::now();
        layers = geopf_gateway::catalog::wmts::parse_capabilities(&xml)
            .expect("parses")
            .len();
        best = best.min(t.elapsed().as_secs_f64() * 1000.0);
    }
    println!("geopf-gateway: {layers} layers parsed in {best:.1} ms (best of {runs})");
}
