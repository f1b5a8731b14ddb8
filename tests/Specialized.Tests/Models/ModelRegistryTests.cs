using Specialized.Models;

namespace Specialized.Tests.Models;

/// <summary>The registry when one model is compiled into two assemblies (Specialized.Models and a model package).</summary>
public sealed class ModelRegistryTests
{
    [Fact]
    public void The_same_model_from_a_second_assembly_is_listed_once_and_found_as_before()
    {
        BuiltInModels.Register();
        ModelDescriptor tiny = ModelRegistry.Models.Single(m => m.Name == "Tiny");

        ModelRegistry.Register(new SameModelOfAnotherAssembly(tiny));

        Assert.Single(ModelRegistry.Models, m => m.Name == "Tiny");
        Assert.Same(tiny, ModelRegistry.Find(tiny.Spec));
    }

    /// <summary>What a model package's generated descriptor is to the built-in one: another type, the same model.</summary>
    private sealed class SameModelOfAnotherAssembly(ModelDescriptor model) : ModelDescriptor
    {
        public override string Name => model.Name;

        public override ModelSpec Spec => model.Spec;

        public override TResult Accept<TResult>(IModelVisitor<TResult> visitor) => model.Accept(visitor);
    }
}
