import COpenSSL
import CTradeTapTLS
import Glibc

/// A connected byte stream to one collector: a non-blocking TCP socket, optionally
/// wrapped in TLS 1.3. Every wait is a poll(2) on the socket and the stop signal,
/// with a deadline, so nothing blocks the sender thread for longer than asked and
/// `Sender.stop()` interrupts any wait. Used only by the sender thread.
public final class CollectorStream {
  private let fd: Int32
  private var ssl: OpaquePointer?
  private let stop: StopSignal
  /// `host:port` this stream is connected to (for log lines).
  public let peer: String

  /// Internal (not private) so the hostile-collector fuzzer (Tools/fuzz) can wrap a socketpair.
  init(fd: Int32, ssl: OpaquePointer?, stop: StopSignal, peer: String) {
    self.fd = fd
    self.ssl = ssl
    self.stop = stop
    self.peer = peer
  }

  deinit {
    if let ssl {
      // Best effort close_notify; the socket is non-blocking so this cannot hang.
      _ = SSL_shutdown(ssl)
      SSL_free(ssl)
    }
    Glibc.close(fd)
  }

  /// Connects to `endpoint` (every address it resolves to, in order), then runs the
  /// TLS handshake when `tls` is given.
  /// - Parameters:
  ///   - tls: the client context; nil = plaintext (`TLS off`, loopback development).
  ///   - serverName: name the certificate must carry; nil = the endpoint's host.
  ///   - timeoutMilliseconds: bound on connect plus handshake.
  ///   - stop: interrupts the wait.
  /// - Throws: `SenderError` (resolve, connect, timedOut, tls, stopped).
  public static func open(
    to endpoint: CollectorEndpoint, tls: TLSClientContext?, serverName: String?,
    timeoutMilliseconds: Int64, stop: StopSignal
  ) throws(SenderError) -> CollectorStream {
    let deadline = Deadline(afterMilliseconds: timeoutMilliseconds)
    let fd = try connectSocket(endpoint, deadline: deadline, stop: stop)
    let stream = CollectorStream(fd: fd, ssl: nil, stop: stop, peer: endpoint.description)
    if let tls {
      try stream.handshake(context: tls, serverName: serverName ?? endpoint.host, deadline: deadline)
    }
    return stream
  }

  // MARK: Reading and writing

  /// Writes every byte, waiting for socket space up to `timeoutMilliseconds`.
  /// - Throws: `SenderError` (timedOut, closedByPeer, io, tls, stopped).
  public func write(_ bytes: UnsafeRawBufferPointer, timeoutMilliseconds: Int64) throws(SenderError) {
    let deadline = Deadline(afterMilliseconds: timeoutMilliseconds)
    var offset = 0
    while offset < bytes.count {
      let base = bytes.baseAddress! + offset
      let remaining = bytes.count - offset
      if let ssl {
        let n = SSL_write(ssl, base, Int32(clamping: remaining))
        if n > 0 {
          offset += Int(n)
          continue
        }
        try waitAfterTLS(ssl, result: n, deadline: deadline, operation: "write")
      } else {
        let n = send(fd, base, remaining, Int32(MSG_NOSIGNAL))
        if n > 0 {
          offset += n
          continue
        }
        let code = errno
        if n < 0 && code == EINTR { continue }
        guard n < 0 && (code == EAGAIN || code == EWOULDBLOCK) else { throw Self.ioError("send", code) }
        try wait(for: Int16(POLLOUT), deadline: deadline, operation: "write")
      }
    }
  }

  /// Reads what has arrived, waiting up to `timeoutMilliseconds` for the first byte.
  /// - Returns: bytes read; 0 when nothing arrived in time.
  /// - Throws: `SenderError` (closedByPeer, io, tls, stopped).
  public func read(into buffer: UnsafeMutableRawBufferPointer, timeoutMilliseconds: Int64) throws(SenderError) -> Int {
    let deadline = Deadline(afterMilliseconds: timeoutMilliseconds)
    while true {
      if let ssl {
        let n = SSL_read(ssl, buffer.baseAddress, Int32(clamping: buffer.count))
        if n > 0 { return Int(n) }
        do {
          try waitAfterTLS(ssl, result: n, deadline: deadline, operation: "read")
        } catch .timedOut {
          return 0
        }
      } else {
        let n = recv(fd, buffer.baseAddress, buffer.count, 0)
        if n > 0 { return n }
        if n == 0 { throw .closedByPeer }
        let code = errno
        if code == EINTR { continue }
        guard code == EAGAIN || code == EWOULDBLOCK else { throw Self.ioError("recv", code) }
        do {
          try wait(for: Int16(POLLIN), deadline: deadline, operation: "read")
        } catch .timedOut {
          return 0
        }
      }
    }
  }

  /// The socket, for a poll that waits on it together with other descriptors.
  var descriptor: Int32 { fd }

  /// Whether bytes already read from the socket wait inside OpenSSL (a decrypted
  /// record, or a record not yet processed): the socket may not be readable then,
  /// so check this before polling it.
  var hasBufferedInput: Bool {
    guard let ssl else { return false }
    return SSL_pending(ssl) > 0 || SSL_has_pending(ssl) == 1
  }

  // MARK: Internals

  private static func ioError(_ operation: String, _ code: Int32) -> SenderError {
    code == ECONNRESET || code == EPIPE ? .closedByPeer : .io(operation: operation, errno: code)
  }

  /// Polls the socket for `events` and the stop signal until the deadline.
  private func wait(for events: Int16, deadline: Deadline, operation: String) throws(SenderError) {
    try Self.poll(fd, events: events, stop: stop, deadline: deadline, operation: operation)
  }

  private static func poll(
    _ fd: Int32, events: Int16, stop: StopSignal, deadline: Deadline, operation: String
  ) throws(SenderError) {
    while true {
      var fds = [pollfd(fd: fd, events: events, revents: 0), pollfd(fd: stop.fd, events: Int16(POLLIN), revents: 0)]
      let r = Glibc.poll(&fds, 2, deadline.remainingPollTimeout)
      if r < 0 {
        if errno == EINTR { continue }
        throw .io(operation: "poll", errno: errno)
      }
      if fds[1].revents != 0 { throw .stopped }
      // POLLERR/POLLHUP count as ready: the following call reports the real error.
      if fds[0].revents != 0 { return }
      if deadline.hasPassed { throw .timedOut(operation) }
    }
  }

  /// After a non-positive SSL_read/SSL_write/SSL_connect result: waits for the
  /// direction OpenSSL needs, or throws the reason the connection is over.
  private func waitAfterTLS(_ ssl: OpaquePointer, result: Int32, deadline: Deadline, operation: String) throws(SenderError) {
    let savedErrno = errno
    let reason = SSL_get_error(ssl, result)
    switch reason {
    case SSL_ERROR_WANT_READ: try wait(for: Int16(POLLIN), deadline: deadline, operation: operation)
    case SSL_ERROR_WANT_WRITE: try wait(for: Int16(POLLOUT), deadline: deadline, operation: operation)
    case SSL_ERROR_ZERO_RETURN: throw .closedByPeer
    case SSL_ERROR_SYSCALL:
      let queued = ERR_peek_error()
      if queued != 0 { throw .tls("\(operation): \(openSSLErrors())") }
      if savedErrno == 0 || savedErrno == ECONNRESET || savedErrno == EPIPE { throw .closedByPeer }
      if savedErrno == EINTR { return }
      throw .io(operation: "TLS \(operation)", errno: savedErrno)
    default:
      throw .tls("\(operation): \(openSSLErrors())")
    }
  }

  private func handshake(context: TLSClientContext, serverName: String, deadline: Deadline) throws(SenderError) {
    ERR_clear_error()
    guard let made = SSL_new(context.context) else { throw .tls("SSL_new: \(openSSLErrors())") }
    ssl = made
    guard SSL_set_fd(made, fd) == 1 else { throw .tls("SSL_set_fd: \(openSSLErrors())") }
    guard serverName.withCString({ tt_tls_expect_server_name(made, $0) }) == 0 else {
      throw .tls("cannot expect server name \(serverName): \(openSSLErrors())")
    }
    while true {
      ERR_clear_error()
      errno = 0
      let r = SSL_connect(made)
      if r == 1 { return }
      let verify = SSL_get_verify_result(made)
      do {
        try waitAfterTLS(made, result: r, deadline: deadline, operation: "handshake")
      } catch .tls(let reason) where verify != Int(X509_V_OK) {
        let why = String(cString: X509_verify_cert_error_string(verify))
        throw .tls("certificate of \(peer) (expected name \(serverName)) refused: \(why); \(reason)")
      } catch .closedByPeer {
        throw .tls("handshake with \(peer): the collector closed the connection (TLS 1.3 only: does it speak TLS 1.3?)")
      }
    }
  }

  private static func connectSocket(_ endpoint: CollectorEndpoint, deadline: Deadline, stop: StopSignal) throws(SenderError) -> Int32 {
    var hints = addrinfo()
    hints.ai_family = AF_UNSPEC
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    hints.ai_flags = AI_NUMERICSERV
    var list: UnsafeMutablePointer<addrinfo>?
    let status = getaddrinfo(endpoint.host, String(endpoint.port), &hints, &list)
    guard status == 0, let first = list else {
      throw .resolve(host: endpoint.host, reason: String(cString: gai_strerror(status)))
    }
    defer { freeaddrinfo(list) }
    var lastError = SenderError.connect(endpoint: endpoint.description, reason: "no address")
    var cursor: UnsafeMutablePointer<addrinfo>? = first
    while let info = cursor {
      cursor = info.pointee.ai_next
      let fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
      guard fd >= 0 else {
        lastError = .io(operation: "socket", errno: errno)
        continue
      }
      do {
        try connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen, endpoint: endpoint, deadline: deadline, stop: stop)
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, socklen_t(MemoryLayout<Int32>.size))
        return fd
      } catch .stopped {
        Glibc.close(fd)
        throw .stopped
      } catch {
        Glibc.close(fd)
        lastError = error
      }
    }
    throw lastError
  }

  private static func connect(
    _ fd: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t,
    endpoint: CollectorEndpoint, deadline: Deadline, stop: StopSignal
  ) throws(SenderError) {
    if Glibc.connect(fd, address, length) == 0 { return }
    guard errno == EINPROGRESS || errno == EINTR else {
      throw .connect(endpoint: endpoint.description, reason: errnoText(errno))
    }
    do {
      try poll(fd, events: Int16(POLLOUT), stop: stop, deadline: deadline, operation: "connect")
    } catch .timedOut {
      throw .timedOut("connect to \(endpoint)")
    }
    var code: Int32 = 0
    var size = socklen_t(MemoryLayout<Int32>.size)
    guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &size) == 0 else {
      throw .connect(endpoint: endpoint.description, reason: errnoText(errno))
    }
    guard code == 0 else { throw .connect(endpoint: endpoint.description, reason: errnoText(code)) }
  }
}
