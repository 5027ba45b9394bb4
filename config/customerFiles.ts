/**
 * The default customer mapping and rules files (and the probabilistic alternative), imported so that the build (`tsc`) copies them
 * into dist/ beside the compiled code: at run time they are read from CUSTOMER_MAPPINGS_DIR and
 * CUSTOMER_MATCH_RULES, which default to these very files.
 */
import contacts from './customer-mappings/contacts.json';
import loyalty from './customer-mappings/loyalty.json';
import onlinePurchases from './customer-mappings/online_purchases.json';
import posPurchases from './customer-mappings/pos_purchases.json';
import matching from './customer-matching.json';
import matchingProbabilistic from './customer-matching-probabilistic.json';

export const DEFAULT_CUSTOMER_FILES = { mappings: [contacts, loyalty, posPurchases, onlinePurchases], matching, matchingProbabilistic };
