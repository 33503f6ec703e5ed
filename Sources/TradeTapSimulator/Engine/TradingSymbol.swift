/// A tradable instrument as the server's symbol configuration defines it. Every
/// symbol the simulator offers is quoted in USD and accounts are in USD, so profit
/// needs no conversion rate: profit = (close − open) × contract size × lots.
public struct TradingSymbol: Sendable, Equatable {
  public var name: String
  /// Price decimals.
  public var digits: Int
  public var contractSize: Double
  /// Ask − bid, in points (1 point = 10^−digits).
  public var spreadPoints: Int64
  /// Bid at the start of a run, in points.
  public var startBidPoints: Int64
  /// Largest move of one price-walk step, in points.
  public var stepPoints: Int64
  /// Swap per lot per rollover, in account currency, for long and short positions.
  public var swapLongPerLot: Double
  public var swapShortPerLot: Double
  /// Commission per lot per deal (charged on entry and exit), in account currency.
  public var commissionPerLot: Double

  public init(name: String, digits: Int, contractSize: Double, spreadPoints: Int64, startBidPoints: Int64,
              stepPoints: Int64, swapLongPerLot: Double, swapShortPerLot: Double, commissionPerLot: Double) {
    self.name = name; self.digits = digits; self.contractSize = contractSize
    self.spreadPoints = spreadPoints; self.startBidPoints = startBidPoints; self.stepPoints = stepPoints
    self.swapLongPerLot = swapLongPerLot; self.swapShortPerLot = swapShortPerLot
    self.commissionPerLot = commissionPerLot
  }

  /// A price in points as the platform's double.
  public func price(_ points: Int64) -> Double { Double(points) / Money.doublePowers[digits] }

  /// Exact decimal text of a price in points.
  public func priceString(_ points: Int64) -> String { Money.decimalString(points, digits: digits) }

  /// The symbols every simulated server offers.
  public static let standard: [TradingSymbol] = [
    TradingSymbol(name: "EURUSD", digits: 5, contractSize: 100_000, spreadPoints: 12, startBidPoints: 108_350,
                  stepPoints: 15, swapLongPerLot: -6.85, swapShortPerLot: 1.92, commissionPerLot: 3.5),
    TradingSymbol(name: "GBPUSD", digits: 5, contractSize: 100_000, spreadPoints: 15, startBidPoints: 126_410,
                  stepPoints: 18, swapLongPerLot: -4.37, swapShortPerLot: -1.13, commissionPerLot: 3.5),
    TradingSymbol(name: "AUDUSD", digits: 5, contractSize: 100_000, spreadPoints: 14, startBidPoints: 65_870,
                  stepPoints: 10, swapLongPerLot: -2.71, swapShortPerLot: -0.44, commissionPerLot: 3.5),
    TradingSymbol(name: "XAUUSD", digits: 2, contractSize: 100, spreadPoints: 30, startBidPoints: 265_012,
                  stepPoints: 60, swapLongPerLot: -32.6, swapShortPerLot: 14.05, commissionPerLot: 5),
    TradingSymbol(name: "BTCUSD", digits: 2, contractSize: 1, spreadPoints: 2_500, startBidPoints: 9_612_345,
                  stepPoints: 4_000, swapLongPerLot: -17.3, swapShortPerLot: -9.8, commissionPerLot: 0),
  ]
}

/// Bid prices of a server's symbols, moved by a seeded random walk. Asks are
/// bid + spread. Buys fill at the ask and sells at the bid, as on the platforms.
public struct PriceFeed: Sendable {
  public let symbols: [TradingSymbol]
  public private(set) var bidPoints: [Int64]
  private let index: [String: Int]

  public init(symbols: [TradingSymbol] = TradingSymbol.standard) {
    self.symbols = symbols
    bidPoints = symbols.map(\.startBidPoints)
    var index: [String: Int] = [:]
    for (i, symbol) in symbols.enumerated() { index[symbol.name] = i }
    self.index = index
  }

  public func symbolIndex(_ name: String) -> Int? { index[name] }
  public func bid(_ symbol: Int) -> Int64 { bidPoints[symbol] }
  public func ask(_ symbol: Int) -> Int64 { bidPoints[symbol] + symbols[symbol].spreadPoints }

  /// Sets a bid (a scenario's quote); never below one point.
  public mutating func setBid(_ symbol: Int, points: Int64) { bidPoints[symbol] = max(1, points) }

  /// One step of the walk on one symbol.
  public mutating func walk(_ symbol: Int, using rng: inout SeededGenerator) {
    let step = symbols[symbol].stepPoints
    let move = Int64(rng.below(Int(2 * step + 1))) - step
    bidPoints[symbol] = max(symbols[symbol].stepPoints * 10, bidPoints[symbol] + move)
  }
}
