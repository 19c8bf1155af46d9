/* The scheduler wake-up: a hint sent after committing outbox tasks. It lives in the
 * api-server library (not main.c) so unit tests that link the route tables resolve it. */
#include <pthread.h>

#include "api.h"
#include "bus.h"
#include "msg.h"

void api_wake_scheduler(struct api *api)
{
	struct msg m;
	msg_init(&m, MSG_WAKE);
	pthread_mutex_lock(&api->wake_lock);
	bus_send(api->wake, NULL, &m);
	pthread_mutex_unlock(&api->wake_lock);
}
