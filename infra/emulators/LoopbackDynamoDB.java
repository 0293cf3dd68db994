// LoopbackDynamoDB runs Amazon's DynamoDB Local listening on 127.0.0.1 only. DynamoDB
// Local has no option for the address it binds: its Jetty server takes a port and
// listens on every interface. This launcher builds the server exactly as DynamoDB
// Local's own ServerRunner does, from the same command line, and sets its connector's
// host to the loopback address before starting it. Java runs it from source
// (java -cp DynamoDBLocal.jar:DynamoDBLocal_lib/* LoopbackDynamoDB.java -port N ...).
import com.amazonaws.services.dynamodbv2.local.main.ServerRunner;
import com.amazonaws.services.dynamodbv2.local.server.DynamoDBProxyServer;
import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

public class LoopbackDynamoDB {
    public static void main(String[] args) throws Exception {
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        Field f = DynamoDBProxyServer.class.getDeclaredField("server");
        f.setAccessible(true);
        Server jetty = (Server) f.get(proxy);
        int bound = 0;
        for (Connector c : jetty.getConnectors()) {
            if (c instanceof ServerConnector) {
                ((ServerConnector) c).setHost("127.0.0.1");
                bound++;
            }
        }
        if (bound == 0) {
            // Never fall back to listening on every interface.
            System.err.println("LoopbackDynamoDB: DynamoDB Local's server has no connector to bind to 127.0.0.1");
            System.exit(2);
        }
        proxy.start();
        System.out.println("LoopbackDynamoDB: listening on 127.0.0.1 only");
        proxy.join();
    }
}
