package io.opentime.support;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A minimal blocking RESP2 client for test fixtures: one socket, one command at a time, every read bounded by a
 * timeout. Replies map to Java as follows: simple string and bulk string to {@link String} (UTF-8), integer to
 * {@link Long}, array to {@code List<Object>}, null bulk string and null array to {@code null}. An error reply is
 * thrown as {@link ErrorReply} when it is the whole reply, and kept as an {@link ErrorReply} element when it is inside
 * an array (as in the reply to EXEC).
 *
 * <p>Not thread-safe. After an {@link IOException} (timeout, closed connection, malformed reply) the connection is in
 * an unknown state: close it. An {@link ErrorReply} leaves it usable.
 */
public final class Resp implements AutoCloseable {

  /** Connect and read timeout of {@link #connect(int)} and {@link #command(int, String...)}. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(2);

  private final Socket socket;
  private final InputStream in;
  private final OutputStream out;

  private Resp(Socket socket) throws IOException {
    this.socket = socket;
    this.in = new BufferedInputStream(socket.getInputStream());
    this.out = new BufferedOutputStream(socket.getOutputStream());
  }

  /** Connects to 127.0.0.1 on the given port with {@link #DEFAULT_TIMEOUT}. */
  public static Resp connect(int port) throws IOException {
    return connect("127.0.0.1", port, DEFAULT_TIMEOUT);
  }

  /** Connects to host:port; {@code timeout} bounds the connect and then every read. */
  public static Resp connect(String host, int port, Duration timeout) throws IOException {
    Socket s = new Socket();
    try {
      s.setTcpNoDelay(true);
      s.connect(new InetSocketAddress(host, port), (int) timeout.toMillis());
      s.setSoTimeout((int) timeout.toMillis());
      return new Resp(s);
    } catch (IOException | RuntimeException e) {
      s.close();
      throw e;
    }
  }

  /** Opens a connection to 127.0.0.1:port, sends one command, returns its reply and closes the connection. */
  public static Object command(int port, String... args) throws IOException {
    try (Resp r = connect(port)) {
      return r.call(args);
    }
  }

  /**
   * Sends one command as an array of bulk strings and returns its reply, mapped as the class comment says.
   *
   * @throws ErrorReply if Redis answers with an error
   * @throws IOException if the reply does not arrive within the read timeout, the connection ends, or the reply is
   *     malformed
   */
  public Object call(String... args) throws IOException {
    if (args.length == 0) {
      throw new IllegalArgumentException("no command");
    }
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    writeAscii(buf, "*" + args.length + "\r\n");
    for (String arg : args) {
      byte[] bytes = arg.getBytes(StandardCharsets.UTF_8);
      writeAscii(buf, "$" + bytes.length + "\r\n");
      buf.write(bytes, 0, bytes.length);
      writeAscii(buf, "\r\n");
    }
    buf.writeTo(out);
    out.flush();
    Object reply = read();
    if (reply instanceof ErrorReply e) {
      throw e;
    }
    return reply;
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }

  private Object read() throws IOException {
    int type = in.read();
    if (type < 0) {
      throw new EOFException("connection closed by Redis");
    }
    String line = readLine();
    switch (type) {
      case '+':
        return line;
      case '-':
        return new ErrorReply(line);
      case ':':
        return parseLong(line);
      case '$': {
        long len = parseLong(line);
        if (len == -1) {
          return null;
        }
        if (len < 0 || len > Integer.MAX_VALUE - 2) {
          throw new IOException("bad bulk string length: " + line);
        }
        byte[] bytes = in.readNBytes((int) len);
        if (bytes.length != len || in.read() != '\r' || in.read() != '\n') {
          throw new EOFException("bulk string of " + len + " bytes cut short");
        }
        return new String(bytes, StandardCharsets.UTF_8);
      }
      case '*': {
        long n = parseLong(line);
        if (n == -1) {
          return null;
        }
        if (n < 0 || n > Integer.MAX_VALUE) {
          throw new IOException("bad array length: " + line);
        }
        List<Object> items = new ArrayList<>((int) Math.min(n, 1024));
        for (long i = 0; i < n; i++) {
          items.add(read());
        }
        return items;
      }
      default:
        throw new IOException("unexpected RESP type byte " + type + " ('" + (char) type + "') before: " + line);
    }
  }

  /** The rest of the line, without its CRLF. */
  private String readLine() throws IOException {
    ByteArrayOutputStream line = new ByteArrayOutputStream();
    while (true) {
      int b = in.read();
      if (b < 0) {
        throw new EOFException("connection closed by Redis mid-reply");
      }
      if (b == '\r') {
        if (in.read() != '\n') {
          throw new IOException("CR not followed by LF in a reply line");
        }
        return line.toString(StandardCharsets.UTF_8);
      }
      line.write(b);
    }
  }

  private static long parseLong(String s) throws IOException {
    try {
      return Long.parseLong(s);
    } catch (NumberFormatException e) {
      throw new IOException("not an integer in a reply: " + s, e);
    }
  }

  private static void writeAscii(ByteArrayOutputStream buf, String s) {
    byte[] b = s.getBytes(StandardCharsets.US_ASCII);
    buf.write(b, 0, b.length);
  }

  /**
   * The value of one {@code name:value} line of an INFO reply (e.g. {@code cluster_state} of CLUSTER INFO, or
   * {@code master_link_status} of INFO replication), or null if there is no such line.
   */
  public static String infoField(Object infoReply, String name) {
    String prefix = name + ":";
    for (String line : String.valueOf(infoReply).split("\r\n")) {
      if (line.startsWith(prefix)) {
        return line.substring(prefix.length());
      }
    }
    return null;
  }

  /**
   * A flat array of alternating field names and values (as SENTINEL MASTER answers) as a map in reply order.
   *
   * @throws IllegalArgumentException if the reply is not such an array
   */
  public static Map<String, Object> pairs(Object flatArrayReply) {
    if (!(flatArrayReply instanceof List<?> list) || list.size() % 2 != 0) {
      throw new IllegalArgumentException("not a flat array of field/value pairs: " + flatArrayReply);
    }
    Map<String, Object> map = new LinkedHashMap<>();
    for (int i = 0; i < list.size(); i += 2) {
      map.put(String.valueOf(list.get(i)), list.get(i + 1));
    }
    return map;
  }

  /** An error reply from Redis, such as {@code MOVED 3999 127.0.0.1:6381} or {@code ERR unknown command}. */
  public static final class ErrorReply extends RuntimeException {

    public ErrorReply(String message) {
      super(message);
    }

    /** The first word of the error (e.g. {@code MOVED}, {@code CLUSTERDOWN}, {@code ERR}). */
    public String code() {
      String m = getMessage();
      int space = m.indexOf(' ');
      return space < 0 ? m : m.substring(0, space);
    }
  }
}
