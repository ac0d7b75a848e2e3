"""django-auditlog's field-diff rows name who acted from the command line and inside Celery tasks too."""

from datetime import date, timedelta

from auditlog.models import LogEntry
from django.core.management import call_command

from apps.accounts.actors import Actor, os_user
from apps.rehydration import services
from apps.rehydration.models import Rehydration
from apps.rehydration.tasks import rehydration_drop_table, rehydration_expire
from tests.roles import user_in


def _requested() -> Rehydration:
    return services.rehydration_request(date_from=date(2026, 1, 1), date_to=date(2026, 1, 2), queues=[],
                                        expires_in=timedelta(days=1), actor=Actor.cli(), via="test", dispatch=False)


def _last_update(rehydration) -> LogEntry:
    return LogEntry.objects.get_for_object(rehydration).filter(action=LogEntry.Action.UPDATE).latest("timestamp")


def test_a_command_names_the_operating_system_user(archive):
    rehydration = _requested()
    call_command("archive", "rehydrate", "--drop", rehydration.short_id)
    entry = _last_update(rehydration)
    assert entry.actor is None and entry.additional_data == {"actor": f"os:{os_user()}", "via": "cli"}


def test_a_task_names_the_user_it_was_sent_for(archive):
    user = user_in("SRE", "ops")
    rehydration = _requested()
    rehydration_drop_table.apply(kwargs={"rehydration_id": str(rehydration.id),
                                         "actor": Actor.of_user(user, via="admin").as_task()}).get()
    assert _last_update(rehydration).actor == user


def test_scheduled_work_names_beat(archive):
    rehydration = _requested()
    Rehydration.objects.filter(pk=rehydration.pk).update(expires_at=rehydration.created_at)
    rehydration_expire.apply().get()
    entry = _last_update(rehydration)
    assert entry.additional_data == {"actor": "beat", "via": "beat"}
