import io.opentime.demo.EmbeddedKafka;
import java.util.concurrent.CountDownLatch;

/**
 * A single-node Kafka broker (KRaft) for the EventStorm load test, in its own JVM: the gateway jar's embedded broker
 * (the one {@code serve --demo} uses), with the topics the gateway expects, created as the demo creates them. The
 * gateway then runs as in production ({@code serve} with {@code OPENTIME_KAFKA_BOOTSTRAP_SERVERS}), which is what
 * lets it take this run's webhook key ({@code serve --demo} refuses {@code OPENTIME_WEBHOOK_KEYS} without a configured
 * Kafka).
 *
 * <p>{@code java -cp target/opentime-gateway.jar load-tests/KafkaBroker.java} prints {@code READY 127.0.0.1:PORT} on
 * stdout once the topics have leaders, and runs until SIGTERM (its data directory is then deleted).
 */
public final class KafkaBroker {

  public static void main(String[] args) throws Exception {
    EmbeddedKafka kafka = EmbeddedKafka.start(0);
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      kafka.close();
      stopped.countDown();
    }, "kafka-broker-stop"));
    // the defaults of kafka.topics in conf/application.yaml
    kafka.createTopics(3, "opentime.profile-events");
    kafka.createTopics(1, "opentime.opens", "opentime.clicks", "opentime.profile-events.dlq");
    System.out.println("READY " + kafka.bootstrapServers());
    System.out.flush();
    stopped.await();
  }
}
