//! Writes the generated seed inputs to `seeds/<target>/` (committed), and
//! with `--corpus PCAP_DIR` also turns the small captures of a directory into
//! libFuzzer corpus entries under `corpus/<target>/` (not committed) for the
//! targets that take captures or frames.

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let args: Vec<String> = std::env::args().skip(1).collect();
    for (target, files) in vendorwatch_fuzz::seeds::all() {
        let dir = root.join("seeds").join(target);
        std::fs::create_dir_all(&dir)?;
        for (name, bytes) in &files {
            std::fs::write(dir.join(name), bytes)?;
        }
        println!("seeds/{target}: {} files", files.len());
    }
    if let [flag, pcaps] = args.as_slice() {
        if flag == "--corpus" {
            let mut paths: Vec<PathBuf> =
                std::fs::read_dir(pcaps)?.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect();
            paths.sort();
            let mut n = 0;
            for path in paths {
                let bytes = std::fs::read(&path)?;
                if bytes.len() > 256 * 1024 {
                    continue;
                }
                let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                let write = |target: &str, name: String, data: &[u8]| -> std::io::Result<()> {
                    let dir = root.join("corpus").join(target);
                    std::fs::create_dir_all(&dir)?;
                    std::fs::write(dir.join(name), data)
                };
                write("capture_reader", stem.clone(), &bytes)?;
                if let Some(p) = vendorwatch_fuzz::seeds::pipeline_input_from_capture(&bytes, 64) {
                    write("pipeline", stem.clone(), &p)?;
                }
                for (i, d) in vendorwatch_fuzz::seeds::decode_inputs_from_capture(&bytes, 4).iter().enumerate() {
                    write("decode", format!("{stem}-{i}"), d)?;
                }
                n += 1;
            }
            println!("corpus/: {n} captures converted");
        }
    }
    Ok(())
}
