package stylekg.testing;

import java.io.IOException;
import java.io.InputStream;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.harness.Neo4j;
import org.neo4j.harness.Neo4jBuilders;

/**
 * Starts an in-process Neo4j (official test harness) with Bolt on 127.0.0.1:PORT, auth disabled,
 * prints one line {@code STYLEKG_NEO4J_READY bolt://127.0.0.1:PORT} and runs until stdin closes or
 * the process gets SIGTERM; then it stops the server and deletes its temporary directory.
 *
 * <p>Usage: {@code java -cp CLASSPATH stylekg.testing.StoreLauncher PORT}
 */
public final class StoreLauncher {
    private StoreLauncher() {}

    public static void main(String[] args) throws IOException {
        if (args.length != 1) {
            System.err.println("usage: StoreLauncher PORT");
            System.exit(64);
        }
        int port = Integer.parseInt(args[0]);
        Neo4j server = Neo4jBuilders.newInProcessBuilder()
                .withDisabledServer()
                .withConfig(BoltConnector.enabled, true)
                .withConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
                .withConfig(GraphDatabaseSettings.auth_enabled, false)
                .build();
        Thread stopper = new Thread(server::close, "stylekg-neo4j-stop");
        Runtime.getRuntime().addShutdownHook(stopper);
        System.out.println("STYLEKG_NEO4J_READY " + server.boltURI());
        System.out.flush();
        InputStream in = System.in;
        while (in.read() != -1) {
            // block until the parent closes our stdin
        }
        Runtime.getRuntime().removeShutdownHook(stopper);
        server.close();
        System.exit(0);
    }
}
