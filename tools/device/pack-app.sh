#!/usr/bin/env bash
# Here, before a device run: publishes the CLI, the offline-throughput program and the BenchmarkDotNet suites into one
# folder, .device/app (they share most assemblies), and drops what a GPU run never loads (pdbs, satellite resources,
# Windows and macOS natives, the disassembler and ETW libraries), so .device stays under the 64 MiB a run carries.
# The runtime itself: /work/shared/tools/pack-dotnet-runtime.sh .device
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf .device/app
for p in src/Cli benchmarks/OfflineThroughput benchmarks/Specialized.Benchmarks; do
  dotnet publish "$p" -c Release -o .device/app > /dev/null
done
cd .device/app
rm -rf arm64 x86 amd64 runtimes/win runtimes/osx* runtimes/linux-x64/native/libcapstone.so cs de es fr it ja ko pl pt-BR ru tr zh-Hans zh-Hant \
  ./*.pdb Iced.dll Gee.External.Capstone.dll Microsoft.Diagnostics.Tracing.TraceEvent.dll
du -sh .
