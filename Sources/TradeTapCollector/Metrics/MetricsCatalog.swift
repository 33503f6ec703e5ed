import CoreMetrics
import Prometheus
import Synchronization

/// Makes the collector's instruments: swift-metrics types (`Counter`, `Meter`,
/// `Timer`) whose handlers live in one `PrometheusCollectorRegistry` per collector.
///
/// Never the process-wide `MetricsSystem`: tests run many collectors in one process,
/// and each must expose its own counts. The handlers come from the registry itself
/// (not through `PrometheusMetricsFactory`) so that every family keeps its `# HELP` line;
/// the factory is still the one each instrument names, for `destroy()`.
struct MetricsCatalog: Sendable {
  let registry: PrometheusCollectorRegistry
  let factory: PrometheusMetricsFactory

  init(registry: PrometheusCollectorRegistry) {
    self.registry = registry
    self.factory = PrometheusMetricsFactory(registry: registry)
  }

  func counter(_ name: String, _ help: String, labels: [(String, String)] = []) -> CoreMetrics.Counter {
    let handler = registry.makeCounter(descriptor: Self.descriptor(name, help), labels: labels)
    return CoreMetrics.Counter(label: name, dimensions: labels, handler: handler, factory: factory)
  }

  func meter(_ name: String, _ help: String, labels: [(String, String)] = []) -> CoreMetrics.Meter {
    let handler = registry.makeGauge(descriptor: Self.descriptor(name, help), labels: labels)
    return CoreMetrics.Meter(label: name, dimensions: labels, handler: handler, factory: factory)
  }

  func timer(_ name: String, _ help: String, labels: [(String, String)] = [], buckets: [Duration]) -> CoreMetrics.Timer {
    let handler = registry.makeDurationHistogram(descriptor: Self.descriptor(name, help), labels: labels, buckets: buckets)
    return CoreMetrics.Timer(label: name, dimensions: labels, handler: handler, factory: factory)
  }

  private static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
    MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
  }
}

/// A count exported as a Prometheus counter and readable in process (tests, the
/// collector's own summary). One relaxed atomic add plus the handler's per call.
public final class CountMetric: Sendable {
  private let exported: CoreMetrics.Counter
  private let total = Atomic<Int>(0)

  init(_ exported: CoreMetrics.Counter) { self.exported = exported }

  /// Adds `amount` (ignored unless positive: a counter never goes down).
  public func add(_ amount: Int) {
    guard amount > 0 else { return }
    total.wrappingAdd(amount, ordering: .relaxed)
    exported.increment(by: amount)
  }

  /// The count so far.
  public var value: Int { total.load(ordering: .relaxed) }

  /// The count so far (the spelling of the `Atomic` this type replaced; always relaxed).
  public func load(ordering _: AtomicLoadOrdering) -> Int { total.load(ordering: .relaxed) }
}

/// A level that goes up and down (open connections), exported as a Prometheus gauge
/// of `level × scale` (a duration kept in microseconds is exported in seconds).
public final class LevelMetric: Sendable {
  private let exported: CoreMetrics.Meter
  private let scale: Double
  private let level = Atomic<Int>(0)

  init(_ exported: CoreMetrics.Meter, scale: Double = 1) {
    self.exported = exported
    self.scale = scale
  }

  /// Adds `amount` (negative to lower it).
  public func add(_ amount: Int) {
    level.wrappingAdd(amount, ordering: .relaxed)
    if amount >= 0 { exported.increment(by: Double(amount) * scale) } else { exported.decrement(by: Double(-amount) * scale) }
  }

  /// Sets the level.
  public func store(_ value: Int, ordering _: AtomicStoreOrdering) {
    level.store(value, ordering: .relaxed)
    exported.set(Double(value) * scale)
  }

  /// The level now.
  public var value: Int { level.load(ordering: .relaxed) }

  /// The level now (the spelling of the `Atomic` this type replaced; always relaxed).
  public func load(ordering _: AtomicLoadOrdering) -> Int { level.load(ordering: .relaxed) }
}
