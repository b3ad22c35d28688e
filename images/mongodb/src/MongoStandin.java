import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.backend.h2.StandinH2Backend;

/**
 * Serves the MongoDB wire protocol on 0.0.0.0:27017 with mongo-java-server's H2 backend, storing
 * every database in one file (default /data/db/mongo.mv), so data survives a restart.
 * The MongoDB stand-in of clearml-openshift's local cluster: no registry reachable from the
 * project's build machines ships mongod. Runs as any UID; /data/db must be writable. The backend is
 * mongo-java-server's H2 backend with one fix (see StandinH2Backend).
 */
public final class MongoStandin {
    public static void main(String[] args) throws Exception {
        String file = System.getenv().getOrDefault("MONGO_STANDIN_FILE", "/data/db/mongo.mv");
        int port = Integer.parseInt(System.getenv().getOrDefault("MONGO_STANDIN_PORT", "27017"));
        MongoServer server = new MongoServer(new StandinH2Backend(file));
        Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow));
        server.bind("0.0.0.0", port);
        System.out.println("mongo-java-server listening on 0.0.0.0:" + port + ", data in " + file);
        Thread.currentThread().join();
    }
}
