using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Specialized.Benchmarks;

/// <summary>
/// A rate from the mean time: <c>amount(case) / seconds / scale</c>, e.g. MB/s of text, TFLOP/s or GB/s of a kernel
/// whose work per operation follows from the case's parameters.
/// </summary>
internal sealed class RateColumn(string name, string legend, double scale, Func<BenchmarkCase, double> amountPerOperation) : IColumn
{
    public string Id => $"{nameof(RateColumn)}.{name}";

    public string ColumnName => name;

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Custom;

    public int PriorityInCategory => 0;

    public bool IsNumeric => true;

    public UnitType UnitType => UnitType.Dimensionless;

    public string Legend => legend;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        double? meanNanoseconds = summary[benchmarkCase]?.ResultStatistics?.Mean;
        return meanNanoseconds is double ns and > 0
            ? (amountPerOperation(benchmarkCase) / (ns * 1e-9) / scale).ToString("F2", style.CultureInfo)
            : "-";
    }

    public bool IsAvailable(Summary summary) => true;

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
}
