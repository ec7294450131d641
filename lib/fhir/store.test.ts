import { ResourceStore } from './store';
import { storeSuite } from '../../test/shared/store-suite';

storeSuite('SQLite', () => new ResourceStore());
