namespace Specialized.Tests.Support;

/// <summary>A fact that needs something only Linux has (sysfs, say): elsewhere it is reported as skipped, never passed.</summary>
public sealed class LinuxFactAttribute : FactAttribute
{
    public LinuxFactAttribute()
    {
        if (!OperatingSystem.IsLinux()) Skip = "needs Linux";
    }
}
