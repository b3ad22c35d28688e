package de.bwaldvogel.mongo.backend.h2;

import java.lang.reflect.Field;
import java.util.List;

import org.h2.mvstore.MVMap;
import org.h2.mvstore.MVStore;

import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.backend.CursorRegistry;
import de.bwaldvogel.mongo.backend.Index;
import de.bwaldvogel.mongo.backend.IndexKey;
import de.bwaldvogel.mongo.backend.KeyValue;
import de.bwaldvogel.mongo.bson.BsonRegularExpression;
import de.bwaldvogel.mongo.bson.Document;

/**
 * mongo-java-server's H2 backend, with one fix the MongoDB stand-in needs for ClearML.
 *
 * A query with a regular expression on a field of a compound unique index fails in mongo-java-server
 * 1.47.0 with "Not yet implemented": AbstractUniqueIndex.canHandle accepts it, then getPositions
 * throws for compound indexes (github.com/bwaldvogel/mongo-java-server issue 80). ClearML asks
 * exactly that when an agent resolves its queue by name (`queues.get_all`, name regex, unique index on
 * company and name). Here such an index declines the query, so the collection scans instead, as
 * mongod would answer it.
 *
 * In this package because H2UniqueIndex's constructor is package-private.
 */
public final class StandinH2Backend extends H2Backend {

    public StandinH2Backend(String fileName) {
        super(fileName);
    }

    @Override
    protected MongoDatabase openOrCreateDatabase(String databaseName) {
        return new Database(databaseName, getMvStore(), getCursorRegistry());
    }

    static final class Database extends H2Database {
        Database(String name, MVStore store, CursorRegistry cursors) {
            super(name, store, cursors);
        }

        @Override
        protected Index<Object> openOrCreateUniqueIndex(String collection, String name, List<IndexKey> keys, boolean sparse) {
            Index<Object> index = super.openOrCreateUniqueIndex(collection, name, keys, sparse);
            if (keys.size() < 2) {
                return index;
            }
            return new CompoundIndex(mvMapOf((H2UniqueIndex) index), name, keys, sparse);
        }
    }

    static final class CompoundIndex extends H2UniqueIndex {
        CompoundIndex(MVMap<KeyValue, Object> map, String name, List<IndexKey> keys, boolean sparse) {
            super(map, name, keys, sparse);
        }

        @Override
        public synchronized boolean canHandle(Document query) {
            for (Object value : query.values()) {
                if (BsonRegularExpression.isRegularExpression(value)) {
                    return false;
                }
            }
            return super.canHandle(query);
        }
    }

    @SuppressWarnings("unchecked")
    private static MVMap<KeyValue, Object> mvMapOf(H2UniqueIndex index) {
        try {
            Field field = H2UniqueIndex.class.getDeclaredField("mvMap");
            field.setAccessible(true);
            return (MVMap<KeyValue, Object>) field.get(index);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("mongo-java-server's H2UniqueIndex changed: no field mvMap", e);
        }
    }
}
