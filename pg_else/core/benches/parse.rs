//! Parse throughput on the real lightmeter sample (`logs_sample/mail.log`, 2252 lines):
//! `cargo bench -p maillog-core -- --warm-up-time 1 --measurement-time 3`.
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use maillog_core::parse::{parse_line, Context, Kind};

fn corpus_lines() -> Vec<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/lightmeter-controlcenter/logs_sample/mail.log"
    );
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("corpus missing: {path}: {e}"));
    String::from_utf8_lossy(&bytes)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn bench(c: &mut Criterion) {
    let lines = corpus_lines();
    let ctx = Context {
        reference_local: 1_613_347_200_000_000,
    };
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.bench_function("lightmeter_mail_log", |b| {
        b.iter(|| {
            let mut other = 0usize;
            for l in &lines {
                if parse_line(black_box(l), &ctx).event.kind == Kind::Other {
                    other += 1;
                }
            }
            other
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
