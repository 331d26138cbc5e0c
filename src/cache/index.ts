export { createHotCache, type HotCache, type HotCacheOptions, type CachedValue } from './hot-cache.js'
export { listenForIndexNotifications, type IndexNotificationListener } from './index-notifications.js'
