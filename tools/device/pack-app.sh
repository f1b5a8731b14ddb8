#!/usr/bin/env bash
# Here, before a device run: publishes the CLI, the OfflineBatch sample, the offline-throughput program and the
# BenchmarkDotNet suites into one
# folder, .device/app (they share most assemblies), drops what a GPU run never loads (pdbs, satellite resources,
# Windows and macOS natives, the disassembler and ETW libraries), and compresses it into .device/app.tar.xz, so .device stays under the 64 MiB a run carries.
# The runtime itself: /work/shared/tools/pack-dotnet-runtime.sh .device
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf .device/app
# The CLI and the offline-throughput program are published last, ReadyToRun (precompiled) for linux-x64: their
# copies of the shared assemblies (ILGPU's compiler above all) then replace the JIT-only ones, which shortens start-up.
# The benchmark suites' own dependencies (BenchmarkDotNet, Roslyn, ...) stay JIT-only: precompiled they would not fit
# the 64 MiB a run carries.
for p in samples/OfflineBatch benchmarks/Specialized.Benchmarks; do
  dotnet publish "$p" -c Release -o .device/app > /dev/null
done
for p in benchmarks/OfflineThroughput src/Cli; do
  dotnet publish "$p" -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true -o .device/app > /dev/null
done
# The kernels' PTX, for ptxas -v there (tools/ptx writes it without a GPU).
rm -rf .device/ptx
dotnet run --project tools/ptx -c Release -- .device/ptx > /dev/null
echo "commit $(git rev-parse HEAD)$(git diff --quiet HEAD || echo ' with uncommitted changes')" > .device/app/commit.txt
cd .device/app
rm -rf arm64 x86 amd64 runtimes/win runtimes/osx* runtimes/linux-x64/native/libcapstone.so libcapstone.so cs de es fr it ja ko pl pt-BR ru tr zh-Hans zh-Hant \
  ./*.pdb Iced.dll Gee.External.Capstone.dll Microsoft.Diagnostics.Tracing.TraceEvent.dll

# The GPU machine's runtime (pack-dotnet-runtime.sh) has no ASP.NET Core: only `serve` needs it, and that command
# loads it only when it runs, so the CLI starts without it there.
python3 - <<'PY'
import json
p = "specialized.runtimeconfig.json"
c = json.load(open(p))
c["runtimeOptions"]["frameworks"] = [f for f in c["runtimeOptions"]["frameworks"] if f["name"] != "Microsoft.AspNetCore.App"]
json.dump(c, open(p, "w"), indent=2)
PY
du -sh .
# It travels compressed (tools/device/setup.sh unpacks it there): ReadyToRun code made the folder too big to carry.
cd .. && rm -f app.tar.xz && tar cJf app.tar.xz app && rm -rf app && du -sh app.tar.xz
