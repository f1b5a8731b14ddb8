# Sourced by the device scripts, in the repository root on the GPU machine: unpacks the .NET runtime
# (/work/shared/tools/pack-dotnet-runtime.sh) and the app (tools/device/pack-app.sh), which both travel xz-compressed
# to stay under the 64 MiB a run carries.
mkdir -p /opt/dn && tar xJf .device/dotnet-rt.tar.xz -C /opt/dn && export DOTNET_ROOT=/opt/dn PATH=/opt/dn:$PATH
[ -d .device/app ] || tar xJf .device/app.tar.xz -C .device
